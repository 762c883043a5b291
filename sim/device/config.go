package device

import (
	"brickyard/flash"
	"brickyard/usp"
	"brickyard/usp/dm"
	"errors"
	"fmt"
	"time"

	"brickyard/sim/faults"
	"brickyard/sim/model"
)

// Config is one device: its identity, its transport's name, its timing,
// its faults and its seed. It is copied by New and not used afterwards.
type Config struct {
	EndpointID   string // this agent's Endpoint ID (Device.LocalAgent.EndpointID); required
	ControllerID string // its controller's Endpoint ID (Controller.1.EndpointID, factory default); required

	Manufacturer    string // default "Brickyard"
	ManufacturerOUI string // six upper-case hex digits; default "00256D"
	ModelName       string // default: the board profile's name
	ProductClass    string // default: the board profile's name
	SerialNumber    string // default: the Endpoint ID
	HardwareVersion string // default "1.0"
	AgentVersion    string // Device.LocalAgent.SoftwareVersion; default "brickyard-1"

	// MTP is the protocol of the agent's MTP and of its controller's, as
	// Device.LocalAgent.MTP.1.Protocol reads ("WebSocket", "MQTT",
	// "STOMP"); default "WebSocket".
	MTP string
	// Transport is where the factory MTP objects say the controller is
	// (its broker, topics, destinations, path): a fleet passes one filled
	// Transport (FillTransport) to all its devices. nil: TR-181's defaults
	// for MTP.
	Transport *Transport
	// Onboarded makes the factory Controller row's OnBoardingComplete
	// true: the device sends no OnBoardRequest to its controller until one
	// sets it false (or calls SendOnBoardRequest()). Default false: the
	// device asks to be onboarded at its first contact, as TR-181's default
	// says.
	Onboarded bool
	// Model is the vendor data model the device presents on top of the
	// default one: the one its schema was built with (NewSchemaWith). A
	// fleet shares it. nil: none.
	Model *model.Model
	// User is the simulated person in front of the device, who answers
	// the prompts of Activate()'s ConfirmationNeeded windows. A fleet
	// shares one. nil: DefaultUser.
	User *User

	// TrialPeriod is how long a new image on trial waits to exchange a
	// Record with its controller before it gives up and resets, so that
	// the bootloader falls back. Default 5 minutes.
	TrialPeriod time.Duration
	// RebootDuration is how long a reboot keeps the device off: the shell
	// calls PowerOn that long after the Output that asked for it.
	// Default 30 seconds.
	RebootDuration time.Duration
	// RetryMinimumWait and RetryIntervalMultiplier are the session retry
	// parameters of TR-369 (SessionRetryMinimumWaitInterval, in the
	// multiplier's thousandths: 2000 is 2.0): the n-th retry waits a
	// random time in [m·(k/1000)^(n-1), m·(k/1000)^n]. Defaults 5 s and
	// 2000.
	RetryMinimumWait        time.Duration
	RetryIntervalMultiplier uint32

	// PeriodicInterval is the factory PeriodicNotifInterval of the
	// controller, in seconds (default 86400).
	PeriodicInterval uint32
	// PeriodicJitter, when set, delays each Periodic! by up to this much
	// more than PeriodicNotifInterval after the one before (the first:
	// after the first session opens), drawn from the device's seed, so
	// that devices that boot together spread their Periodic! events.
	PeriodicJitter time.Duration

	Faults faults.Faults // this device's faults (faults.Assign)
	Seed   uint64        // seeds every random draw of the device

	// Blobs turns a verified download into flash content. A fleet passes
	// one shared source, so that devices installing the same image hold
	// its pages once (the chips share them copy-on-write); nil gives each
	// device a private copy.
	Blobs BlobSource

	// Unknown is the policy for Controllers the device has no enabled
	// Controller row or role for (TR-369 allows refusing them or serving
	// them with the Untrusted role); default RefuseUnknown.
	Unknown UnknownPolicy
	// Cert, when set, is the certificate the device holds for its MTPs,
	// listed as Device.LocalAgent.Certificate.1 (a fleet shares one).
	Cert *Certificate
	// ACL, if set, lets devices share the compiled permissions of equal
	// roles (dm.Config.ACL): a fleet passes one cache, safe for concurrent
	// use when its devices run on several goroutines. nil: every device
	// compiles its own.
	ACL dm.ACLCache

	// Intern, if set, lets devices share the storage of equal data model
	// rows (dm.Config.Intern): a fleet passes one interning table to all
	// its devices. It must return a string equal to its argument, and be
	// safe for concurrent use if the devices sharing it run on several
	// goroutines. nil: every device keeps its own.
	Intern func(string) string
}

// BlobSource makes flash content of downloaded bytes; pad is the chip's
// erased value. It may return a Blob it made before for equal bytes. The
// device never modifies data.
type BlobSource interface {
	Blob(data []byte, pad byte) *flash.Blob
}

// Defaults of Config.
const (
	DefaultTrialPeriod    = 5 * time.Minute
	DefaultRebootDuration = 30 * time.Second
	DefaultMTP            = "WebSocket"
)

// MaxPeriodicJitter bounds Config.PeriodicJitter: a day, the default
// interval.
const MaxPeriodicJitter = 24 * time.Hour

// CheckRetryMinimumWait checks a SessionRetryMinimumWaitInterval: TR-181
// makes it an unsignedInt[1:65535] of seconds, so whole seconds from 1 s
// to 65,535 s. (A wait of a nanosecond once made one device against a
// closed port dial 67,904 times in 5 s.)
func CheckRetryMinimumWait(d time.Duration) error {
	if d < time.Second || d > 65535*time.Second || d%time.Second != 0 {
		return fmt.Errorf("%v: want whole seconds from 1s to 65535s (TR-369 SessionRetryMinimumWaitInterval)", d)
	}
	return nil
}

func (c *Config) fill(board string) error {
	switch {
	case c.EndpointID == "":
		return errors.New("device: Config.EndpointID is required")
	case c.ControllerID == "":
		return errors.New("device: Config.ControllerID is required")
	case c.TrialPeriod < 0 || c.RebootDuration < 0 || c.RetryMinimumWait < 0:
		return errors.New("device: negative TrialPeriod, RebootDuration or RetryMinimumWait")
	case c.PeriodicJitter < 0 || c.PeriodicJitter > MaxPeriodicJitter:
		return fmt.Errorf("device: PeriodicJitter %v: want 0 to %v", c.PeriodicJitter, MaxPeriodicJitter)
	case CheckUnknownPolicy(c.Unknown) != nil:
		return fmt.Errorf("device: %w", CheckUnknownPolicy(c.Unknown))
	case c.RetryIntervalMultiplier != 0 && (c.RetryIntervalMultiplier < 1000 || c.RetryIntervalMultiplier > 65535):
		return fmt.Errorf("device: RetryIntervalMultiplier %d: want 1000 to 65535", c.RetryIntervalMultiplier)
	}
	if err := CheckRetryMinimumWait(c.RetryMinimumWait); c.RetryMinimumWait != 0 && err != nil {
		return fmt.Errorf("device: RetryMinimumWait: %w", err)
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Manufacturer, "Brickyard")
	def(&c.ManufacturerOUI, "00256D")
	def(&c.ModelName, board)
	def(&c.ProductClass, board)
	def(&c.SerialNumber, c.EndpointID)
	def(&c.HardwareVersion, "1.0")
	def(&c.AgentVersion, "brickyard-1")
	if c.Transport != nil && c.Transport.Protocol != "" {
		c.MTP = c.Transport.Protocol
	}
	def(&c.MTP, DefaultMTP)
	switch {
	case c.Transport == nil:
		c.Transport = defaultTransport(c.MTP)
	case *c.Transport != c.Transport.fill(c.MTP):
		t, err := FillTransport(*c.Transport, c.MTP)
		if err != nil {
			return err
		}
		c.Transport = t
	default:
		if err := c.Transport.check(); err != nil {
			return err
		}
	}
	if c.User == nil {
		c.User = &DefaultUser
	} else if err := c.User.check(); err != nil {
		return err
	}
	if !isOUI(c.ManufacturerOUI) {
		return fmt.Errorf("device: ManufacturerOUI %q: want six upper-case hex digits", c.ManufacturerOUI)
	}
	if c.TrialPeriod == 0 {
		c.TrialPeriod = DefaultTrialPeriod
	}
	if c.RebootDuration == 0 {
		c.RebootDuration = DefaultRebootDuration
	}
	if c.PeriodicInterval == 0 {
		c.PeriodicInterval = 86400
	}
	if c.RetryMinimumWait == 0 {
		c.RetryMinimumWait = usp.DefaultRetryMinimumWait
	}
	if c.RetryIntervalMultiplier == 0 {
		c.RetryIntervalMultiplier = usp.DefaultRetryIntervalMultiplier
	}
	return nil
}

func isOUI(s string) bool {
	if len(s) != 6 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'A' <= s[i] && s[i] <= 'F') {
			return false
		}
	}
	return true
}

// FillTransport checks t and gives it TR-181's defaults for protocol (when
// t names none). A fleet fills its Transport once and gives the result to
// every device's Config: they share it.
func FillTransport(t Transport, protocol string) (*Transport, error) {
	f := t.fill(protocol)
	if err := f.check(); err != nil {
		return nil, err
	}
	return &f, nil
}

// The default Transports, one per protocol, shared by the devices that
// name none.
var defaultTransports = map[string]*Transport{}

func init() {
	for _, p := range []string{"WebSocket", "MQTT", "STOMP", "InProcess"} {
		t := Transport{}.fill(p)
		defaultTransports[p] = &t
	}
}

func defaultTransport(p string) *Transport {
	if t := defaultTransports[p]; t != nil {
		return t
	}
	t := Transport{}.fill(p)
	return &t
}

// User is how the simulated user answers a ConfirmationNeeded prompt
// (TR-181 Activate() TimeWindow.{i}.Mode): after After, declining the
// first Declines prompts the device ever shows, then as Answer says.
type User struct {
	Answer   UserAnswer
	After    time.Duration // default 10 s; an unanswered prompt is given up after a minute
	Declines int
}

// UserAnswer is what the simulated user does with a prompt.
type UserAnswer uint8

// Answers of the simulated user.
const (
	UserConfirm UserAnswer = iota // confirms: the activation runs
	UserDecline                   // declines: the device asks again while MaxRetries allows
	UserSilent                    // never answers: each prompt lapses after a minute
)

// DefaultUser confirms every prompt after 10 seconds.
var DefaultUser = User{Answer: UserConfirm, After: 10 * time.Second}

func (u *User) check() error {
	switch {
	case u.Answer > UserSilent:
		return fmt.Errorf("device: User.Answer %d: want UserConfirm, UserDecline or UserSilent", u.Answer)
	case u.After < 0 || u.After > time.Hour:
		return fmt.Errorf("device: User.After %v: want 0 to 1h", u.After)
	case u.Declines < 0 || u.Declines > 1000:
		return fmt.Errorf("device: User.Declines %d: want 0 to 1000", u.Declines)
	}
	return nil
}
