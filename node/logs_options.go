package node

import (
	"errors"
	"fmt"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/logsink"
)

// Switch is an on/off option whose default depends on the node's role.
type Switch uint8

// Switch values.
const (
	SwitchDefault Switch = iota // the role's default
	SwitchOn
	SwitchOff
)

// LogOptions configure log streams on a node. The zero value means the
// defaults.
type LogOptions struct {
	// Local writes log batches to files in Dir: the node's own records,
	// and, on a node with local logging, the batches peers ship to it.
	// Default: on for loggers and standalone nodes (when Dir is set), off
	// for workers, proxies and managers — as Zeek's
	// Log::enable_local_logging.
	Local Switch
	// Remote ships the node's records to the live loggers among its peers
	// (peers whose role is logger). Default: on for workers, proxies and
	// managers, off for loggers and standalone nodes — as Zeek's
	// Log::enable_remote_logging.
	Remote Switch
	// Dir is where local log files go. Required for local logging; with
	// Dir empty, local logging is off unless Local is SwitchOn, which is
	// then an error.
	Dir string
	// Format of local files. Default logsink.FormatTSV.
	Format logsink.FileFormat
	// Rotate configures rotation of local files (Dir and Format are taken
	// from this struct). Default: hourly, as Zeek. Rotate.Command runs a
	// command on each rotated file, off the write path (logged with the
	// node's logger unless Rotate.Command.Log is set); see
	// logsink.CommandOptions. Its counters are in LogStats.Sink.Commands.
	Rotate logsink.RotateOptions
	// Batch configures batching (defaults: 400 records, 256 KiB or 1 s).
	Batch logsink.BatcherOptions
	// Ship configures delivery to loggers: memory budget, resend delay,
	// spool. Default: round-robin over live loggers; set PerStreamHRW for
	// rendezvous hashing per stream.
	Ship logsink.ShipperOptions
	// PerStreamHRW sends each stream to one logger chosen by rendezvous
	// hashing instead of round-robin.
	PerStreamHRW bool
	// SpoolDir, if set, holds batches past Ship.Budget on disk (at most
	// SpoolBytes) instead of dropping them.
	SpoolDir string
	// SpoolBytes bounds the spool. Default 1 GiB.
	SpoolBytes int64
	// Codec compresses shipped batches. Default logsink.DefaultCodec.
	Codec frame.Codec
	// Queue is how many closed batches may wait for the shipping goroutine
	// (which compresses and sends them). Writers block while it is full —
	// only when compression cannot keep up with them. Default 256.
	Queue int
	// WriteQueue bounds the bytes of received batches waiting to be
	// written on a logger. Past it, batches are shed unacknowledged and
	// counted; their senders resend them. Default 64 MiB.
	WriteQueue int64
	// Dedupe configures the logger's duplicate detection.
	Dedupe logsink.DedupeOptions
	// MaxStreams bounds the streams a node accepts, locally created or
	// received. Default 1024.
	MaxStreams int
	// Tick is how often batch delays, resends and rotation are checked.
	// Default 100 ms.
	Tick time.Duration
}

// Defaults of LogOptions.
const (
	DefaultLogQueue      = 256
	DefaultLogWriteQueue = 64 << 20
	DefaultLogMaxStreams = 1024
	DefaultLogTick       = 100 * time.Millisecond
	DefaultSpoolBytes    = 1 << 30
)

// EnsureDefaults fills zero fields.
func (o *LogOptions) EnsureDefaults() {
	if o.Codec == frame.CodecNone {
		o.Codec = logsink.DefaultCodec
	}
	if o.Queue == 0 {
		o.Queue = DefaultLogQueue
	}
	if o.WriteQueue == 0 {
		o.WriteQueue = DefaultLogWriteQueue
	}
	if o.MaxStreams == 0 {
		o.MaxStreams = DefaultLogMaxStreams
	}
	if o.Tick == 0 {
		o.Tick = DefaultLogTick
	}
	if o.SpoolBytes == 0 {
		o.SpoolBytes = DefaultSpoolBytes
	}
	o.Batch.EnsureDefaults()
	o.Ship.EnsureDefaults()
	o.Dedupe.EnsureDefaults()
}

// Validate reports options that cannot work.
func (o *LogOptions) Validate() error {
	var errs []error
	if o.Local == SwitchOn && o.Dir == "" {
		errs = append(errs, errors.New("node: local logging needs LogOptions.Dir"))
	}
	if o.Local > SwitchOff || o.Remote > SwitchOff {
		errs = append(errs, errors.New("node: bad log switch"))
	}
	if o.Queue < 1 || o.WriteQueue < 1<<20 || o.MaxStreams < 1 || o.Tick <= 0 || o.SpoolBytes < 0 {
		errs = append(errs, fmt.Errorf("node: bad log limits (queue %d, write queue %d, streams %d, tick %v)",
			o.Queue, o.WriteQueue, o.MaxStreams, o.Tick))
	}
	if o.Codec > frame.CodecZstd {
		errs = append(errs, fmt.Errorf("node: unknown log codec %d", o.Codec))
	}
	errs = append(errs, o.Batch.Validate(), o.Ship.Validate(), o.Dedupe.Validate())
	return errors.Join(errs...)
}

// local and remote resolve the switches for a role.
func (o *LogOptions) local(r frame.Role) bool {
	switch o.Local {
	case SwitchOn:
		return true
	case SwitchOff:
		return false
	}
	return o.Dir != "" && (r == frame.RoleLogger || r == frame.RoleNone)
}

func (o *LogOptions) remote(r frame.Role) bool {
	switch o.Remote {
	case SwitchOn:
		return true
	case SwitchOff:
		return false
	}
	return r == frame.RoleWorker || r == frame.RoleProxy || r == frame.RoleManager
}
