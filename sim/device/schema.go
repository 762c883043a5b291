package device

import (
	"strconv"

	"brickyard/usp/dm"
	"brickyard/usp/path"
)

// Paths the device uses.
const (
	pathFW         = "Device.DeviceInfo.FirmwareImage."
	pathBootFW     = "Device.DeviceInfo.BootFirmwareImage"
	pathController = "Device.LocalAgent.Controller."
	pathAgentMTP   = "Device.LocalAgent.MTP."
	eventBoot      = "Device.Boot!"
	eventTransfer  = "Device.LocalAgent.TransferComplete!"
	eventPeriodic  = "Device.LocalAgent.Periodic!"
)

// FirmwareImage.{i}.Status values (TR-181).
const (
	stNoImage            = "NoImage"
	stActive             = "Active"
	stDownloading        = "Downloading"
	stValidating         = "Validating"
	stAvailable          = "Available"
	stDownloadFailed     = "DownloadFailed"
	stValidationFailed   = "ValidationFailed"
	stInstallationFailed = "InstallationFailed"
	stActivationFailed   = "ActivationFailed"
)

// MaxTimeWindows is Device.DeviceInfo.MaxNumberOfActivateTimeWindows: the
// most TimeWindow instances Activate() accepts.
const MaxTimeWindows = 5

// NewSchema builds the TR-181 Device:2 data model of a brickyard device
// (Device:2.19 names): DeviceInfo with its FirmwareImage table and the
// Download()/Activate() commands, Reboot(), FactoryReset() and Boot!,
// LocalAgent with its MTP, Controller (BootParameter, MTP), Subscription
// and Request tables, TransferComplete! and Periodic!. Build it once per
// fleet and give it to every New: the schema is immutable and shared.
// Parameters computed from the device (SoftwareVersion, UpTime,
// ActiveFirmwareImage, ...) read the Device through dm.Ctx.Env.
func NewSchema() (*dm.Schema, error) { return newBuilder().Build() }

// newBuilder declares the default model.
func newBuilder() *dm.Builder {
	b := dm.NewBuilder(dm.Options{URI: "urn:broadband-forum-org:tr-181-2-19-0"})

	root := b.Object("Device.")
	root.Command("Reboot()").Sync(rebootCmd).In("Cause", "Reason")
	root.Command("FactoryReset()").Sync(factoryResetCmd).In("Cause", "Reason")
	root.Event("Boot!", "CommandKey", "Cause", "Reason", "FirmwareUpdated", "ParameterMap")

	di := b.Object("Device.DeviceInfo.")
	ident := func(name string, f func(c *setup) string) {
		di.String(name).Getter(func(c dm.Ctx) string { return f(&dev(c).cfg) })
	}
	ident("Manufacturer", (*setup).Manufacturer)
	ident("ManufacturerOUI", (*setup).ManufacturerOUI)
	ident("ModelName", (*setup).ModelName)
	ident("ProductClass", (*setup).ProductClass)
	ident("SerialNumber", func(c *setup) string { return c.SerialNumber })
	ident("HardwareVersion", (*setup).HardwareVersion)
	di.String("SoftwareVersion").Getter(func(c dm.Ctx) string { return dev(c).softwareVersion() })
	di.Uint("UpTime").Getter(upTime).IgnoreValueChange()
	di.Uint("FirmwareImageNumberOfEntries")
	di.String("ActiveFirmwareImage").Getter(func(c dm.Ctx) string { return dev(c).activeRowPath() })
	di.String("BootFirmwareImage").Writable().Persistent().RefTo("Device.DeviceInfo.FirmwareImage.{i}.").
		Validator(checkBootFirmwareImage).Setter(setBootFirmwareImage)
	di.Uint("MaxNumberOfActivateTimeWindows").Default(strconv.Itoa(MaxTimeWindows))

	declareInfoStatus(di)

	fw := di.Object("FirmwareImage.{i}.").Keys("Alias").Persistent()
	fw.String("Alias").WriteOnce().MaxLen(64)
	fw.String("Name").MaxLen(64)
	fw.String("Version").MaxLen(64)
	fw.Bool("Available").Writable().Validator(checkAvailable)
	fw.String("Status").Default(stNoImage).Enum(stNoImage, stActive, stDownloading, stValidating, stAvailable,
		stDownloadFailed, stValidationFailed, stInstallationFailed, stActivationFailed)
	fw.String("BootFailureLog").MaxLen(1024)
	fw.Command("Download()").Async(acceptDownload).Mandatory("URL").
		In("AutoActivate", "Username", "Password", "FileSize", "CheckSumAlgorithm", "CheckSum").
		Default("AutoActivate", "false")
	fw.Command("Activate()").Async(acceptActivate).
		Mandatory("TimeWindow.{i}.Start", "TimeWindow.{i}.End", "TimeWindow.{i}.Mode").
		In("TimeWindow.{i}.UserMessage", "TimeWindow.{i}.MaxRetries")

	la := b.Object("Device.LocalAgent.")
	la.String("EndpointID").Getter(func(c dm.Ctx) string { return dev(c).cfg.EndpointID })
	la.String("SoftwareVersion").Getter(func(c dm.Ctx) string { return dev(c).cfg.AgentVersion() })
	la.Uint("UpTime").Getter(upTime).IgnoreValueChange()
	la.List("SupportedProtocols", path.String).Getter(func(c dm.Ctx) string { return dev(c).cfg.MTP() })
	la.Uint("MTPNumberOfEntries")
	la.Uint("ControllerNumberOfEntries")
	la.Uint("SubscriptionNumberOfEntries")
	la.Uint("RequestNumberOfEntries")
	la.Event("TransferComplete!", "Command", "CommandKey", "Requestor", "TransferType", "Affected", "TransferURL",
		"StartTime", "CompleteTime", "FaultCode", "FaultString", "CheckSumAlgorithm", "CheckSum")
	la.Event("Periodic!")

	declareAgentMTP(la)

	ctl := la.Object("Controller.{i}.").Access(dm.AddDelete).Keys("Alias").Keys("EndpointID").Persistent()
	ctl.String("Alias").WriteOnce().MaxLen(64)
	ctl.Bool("Enable").Writable()
	ctl.String("EndpointID").Writable().MaxLen(256)
	ctl.String("ControllerCode").Writable().MaxLen(128)
	ctl.String("ProvisioningCode").Writable().MaxLen(64)
	ctl.Uint("PeriodicNotifInterval").Writable().Min(1).Default("86400")
	ctl.Uint("USPNotifRetryMinimumWaitInterval").Writable().Range(0, 65535).Default("5")
	ctl.Uint("USPNotifRetryIntervalMultiplier").Writable().Range(1000, 65535).Default("2000")
	ctl.Bool("OnBoardingComplete").Writable().Setter(onBoardingSet).
		Template(tmplOr("false", func(d *Device) string { return boolStr(d.cfg.Onboarded) }))
	ctl.Uint("OnBoardingRestartTime").Writable()
	ctl.Command("SendOnBoardRequest()").Sync(sendOnBoardRequestCmd)
	ctl.Uint("BootParameterNumberOfEntries")
	ctl.Uint("MTPNumberOfEntries")
	bp := ctl.Object("BootParameter.{i}.").Access(dm.AddDelete).Keys("Alias").Keys("ParameterName").Persistent()
	bp.String("Alias").WriteOnce().MaxLen(64)
	bp.Bool("Enable").Writable()
	bp.String("ParameterName").Writable().MaxLen(256)
	declareControllerMTP(ctl)
	b.UseControllers("Device.LocalAgent.Controller.{i}.")
	declareTrust(b)

	declareMQTT(b)
	declareSTOMP(b)
	declareTime(b)
	declareNetwork(b)

	b.Subscriptions("Device.LocalAgent.Subscription.{i}.")
	b.Requests("Device.LocalAgent.Request.{i}.")
	return b
}

// dev is the Device a binding runs for.
func dev(c dm.Ctx) *Device { return c.Env.(*Device) }
