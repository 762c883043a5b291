package formats

import (
	"crypto"
	"encoding/binary"

	"brickyard/boards/image"
	"brickyard/boards/image/fit"
)

// ParseTrustFile reads a file of trusted keys: a PEM public key or
// certificate of any algorithm the formats sign with
// (image.ParseAnyPublicKeyPEM), or a U-Boot control device tree holding
// /signature keys (fit.ControlKeys).
func ParseTrustFile(data []byte) ([]crypto.PublicKey, error) {
	if len(data) >= 4 && binary.BigEndian.Uint32(data) == fit.FDTMagic {
		return fit.ControlKeys(data)
	}
	pub, err := image.ParseAnyPublicKeyPEM(data)
	if err != nil {
		return nil, err
	}
	return []crypto.PublicKey{pub}, nil
}
