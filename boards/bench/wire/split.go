package wire

// Splitter separates a board's receive stream into frames and console
// text. Feed it bytes as they arrive, in any pieces; it calls
//
//   - Frame for each frame that decodes,
//   - Text for console bytes (everything outside frames, less the 0x00
//     delimiters), in order, in pieces of its choosing,
//   - Bad for each candidate frame that does not decode (noise, a CRC
//     error, a truncated or oversized frame, another protocol version):
//     its bytes are dropped.
//
// A frame candidate starts at 0x00 followed by the marker 0xA5 and ends at
// the next 0x00; that delimiter may start the next frame. A candidate
// longer than MaxEncoded is dropped up to the next 0x00. Memory is bounded
// by MaxEncoded whatever arrives. Nil callbacks discard.
type Splitter struct {
	Frame func(Frame)
	Text  func([]byte)
	Bad   func(error)

	state splitState
	buf   []byte
}

type splitState uint8

const (
	stText  splitState = iota
	stSync             // after a 0x00: the marker starts a frame
	stFrame            // in a frame's body
	stSkip             // dropping an oversized frame up to the next 0x00
)

// Feed consumes b.
func (s *Splitter) Feed(b []byte) {
	text := 0 // start of the current run of text in b
	flush := func(end int) {
		if end > text && s.Text != nil {
			s.Text(b[text:end])
		}
	}
	for i, c := range b {
		switch s.state {
		case stText:
			if c == Delim {
				flush(i)
				s.state = stSync
			}
		case stSync:
			switch c {
			case Delim:
			case Mark:
				if s.buf == nil {
					s.buf = make([]byte, 0, MaxEncoded) // the one allocation, of the bound
				}
				s.state, s.buf = stFrame, s.buf[:0]
			default:
				s.state, text = stText, i
			}
		case stFrame:
			if c == Delim {
				s.end()
				s.state = stSync
				continue
			}
			if len(s.buf) == MaxEncoded {
				s.bad(ErrOversized)
				s.state, s.buf = stSkip, s.buf[:0]
				continue
			}
			s.buf = append(s.buf, c)
		case stSkip:
			if c == Delim {
				s.state = stSync
			}
		}
	}
	if s.state == stText {
		flush(len(b))
	}
}

func (s *Splitter) end() {
	if len(s.buf) == 0 {
		return // 0x00 0xA5 0x00: nothing
	}
	f, err := Decode(s.buf)
	if err != nil {
		s.bad(err)
		return
	}
	if s.Frame != nil {
		s.Frame(f)
	}
}

func (s *Splitter) bad(err error) {
	if s.Bad != nil {
		s.Bad(err)
	}
}
