package agents

import "time"

// Config is brickyard fleet's configuration: one field per flag of the
// command, and one key per field in the fleet: section of the
// configuration file (fleet.<flag with - as _>: --mqtt-version is
// fleet.mqtt_version and BRICKYARD_FLEET_MQTT_VERSION), so that a fleet can
// be described in a file, in the environment or on the command line, with
// viper's layering. Resolve checks it and resolves the fleet it describes;
// its errors name the flag (--devices), whichever layer gave the value.
type Config struct {
	// Where the controller is.
	WSURL           string        `mapstructure:"ws_url"`
	MQTT            string        `mapstructure:"mqtt"`
	STOMP           string        `mapstructure:"stomp"`
	ControllerID    string        `mapstructure:"controller_id"`
	AgentTopic      string        `mapstructure:"agent_topic"`
	ControllerTopic string        `mapstructure:"controller_topic"`
	MQTTVersion     string        `mapstructure:"mqtt_version"`
	MQTTQoS         int           `mapstructure:"mqtt_qos"`
	ClientID        string        `mapstructure:"client_id"`
	AgentDest       string        `mapstructure:"agent_dest"`
	ControllerDest  string        `mapstructure:"controller_dest"`
	STOMPVHost      string        `mapstructure:"stomp_vhost"`
	STOMPTransient  bool          `mapstructure:"stomp_transient"`
	KeepAlive       time.Duration `mapstructure:"keepalive"`
	TLSCA           string        `mapstructure:"tls_ca"`
	TLSCert         string        `mapstructure:"tls_cert"`
	TLSKey          string        `mapstructure:"tls_key"`
	TLSServerName   string        `mapstructure:"tls_server_name"`
	Username        string        `mapstructure:"username"`
	Password        string        `mapstructure:"password"`
	PasswordFile    string        `mapstructure:"password_file"`
	Sources         string        `mapstructure:"sources"`
	Discover        bool          `mapstructure:"discover"`
	DNSServer       string        `mapstructure:"dns_server"`
	DNSDomain       string        `mapstructure:"dns_domain"`
	DNSServe        string        `mapstructure:"dns_serve"`
	MDNS            bool          `mapstructure:"mdns"`
	MDNSGroup       string        `mapstructure:"mdns_group"`
	MDNSInterface   string        `mapstructure:"mdns_interface"`
	DeviceCerts     bool          `mapstructure:"device_certs"`
	DeviceCA        string        `mapstructure:"device_ca"`
	DeviceCAKey     string        `mapstructure:"device_ca_key"`
	CheckIdentity   bool          `mapstructure:"check_identity"`

	// The fleet.
	Scenario        string        `mapstructure:"scenario"`
	Devices         int           `mapstructure:"devices"`
	Board           string        `mapstructure:"board"`
	BoardsMix       string        `mapstructure:"boards_mix"`
	Version         string        `mapstructure:"version"`
	IDs             string        `mapstructure:"ids"`
	Serials         string        `mapstructure:"serials"`
	Faults          string        `mapstructure:"faults"`
	ConnectRate     float64       `mapstructure:"connect_rate"`
	ConnectJitter   time.Duration `mapstructure:"connect_jitter"`
	Ramp            string        `mapstructure:"ramp"`    // STEP/EVERY: power on in steps
	Diurnal         string        `mapstructure:"diurnal"` // LOW@AT[/PERIOD]: a daily pattern of the power
	Duration        time.Duration `mapstructure:"duration"`
	Seed            uint64        `mapstructure:"seed"`
	Reboot          time.Duration `mapstructure:"reboot"`
	Trial           time.Duration `mapstructure:"trial"`
	Periodic        time.Duration `mapstructure:"periodic"`
	PeriodicJitter  time.Duration `mapstructure:"periodic_jitter"`
	RetryMinWait    time.Duration `mapstructure:"retry_min_wait"`
	RetryMultiplier uint32        `mapstructure:"retry_multiplier"`
	Unknown         string        `mapstructure:"unknown_controllers"`
	Boards          string        `mapstructure:"boards"`
	Trust           []string      `mapstructure:"trust"`
	Images          []string      `mapstructure:"image"`
	WriteKey        string        `mapstructure:"write_key"`
	Shard           string        `mapstructure:"shard"`
	Workers         int           `mapstructure:"workers"`
	ResponseTimeout time.Duration `mapstructure:"response_timeout"`
	DownloadTimeout time.Duration `mapstructure:"download_timeout"`
	DownloadStall   time.Duration `mapstructure:"download_stall_timeout"`
	Downloads       int           `mapstructure:"downloads"`
	Onboarded       bool          `mapstructure:"onboarded"`
	Model           string        `mapstructure:"model"`
	StateDir        string        `mapstructure:"state_dir"`

	// Output.
	Out           string        `mapstructure:"out"`
	MetricsAddr   string        `mapstructure:"metrics_addr"`
	MetricsExpose bool          `mapstructure:"metrics_expose"`
	Pprof         bool          `mapstructure:"pprof"`
	Dashboard     string        `mapstructure:"dashboard"`        // serve the live dashboard here
	DashExpose    bool          `mapstructure:"dashboard_expose"` // on a non-loopback address too
	Linger        time.Duration `mapstructure:"linger"`           // keep serving this long after the run
	EventLog      string        `mapstructure:"event_log"`
	EventLogFmt   string        `mapstructure:"event_log_format"` // text or json
	Trace         string        `mapstructure:"trace"`            // devices to trace: endpoint IDs or a share (scenarios/trace)
	TraceFile     string        `mapstructure:"trace_file"`       // "": trace.jsonl in Out
	TraceMax      int64         `mapstructure:"trace_max"`        // bytes; 0: trace.DefaultMax
	Quiet         bool          `mapstructure:"quiet"`
	DumpModel     bool          `mapstructure:"dump_model"`
}
