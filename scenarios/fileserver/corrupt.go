package fileserver

import "hash/fnv"

// CorruptAt is where the n-th corrupt answer (counting from 0) for path
// flips a byte, when a server with this seed sends size bytes: the
// position in [0, size) and the non-zero XOR mask. It is a pure function
// of its arguments (FNV-1a of the path mixed with the seed and n through
// SplitMix64), so a firmware team can tell which byte a device received
// wrong. For size <= 0 it returns -1, 0.
func CorruptAt(seed uint64, path string, n uint64, size int) (pos int, mask byte) {
	if size <= 0 {
		return -1, 0
	}
	h := fnv.New64a()
	h.Write([]byte(path)) // never fails
	x := mix64(seed ^ mix64(h.Sum64()^mix64(n)))
	pos = int(x % uint64(size))
	mask = byte(1 + (x>>32)%255)
	return pos, mask
}

// mix64 is SplitMix64's output function.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
