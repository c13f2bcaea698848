// Package dataroot is the layout of a data root (-data DIR): the one place
// that names its directories, so every program that reads what another
// wrote finds it where that one put it.
//
//	DIR/sync/GW/YYYYMMDD/         sync_files and attachment bundles of a gateway's day (kept)
//	DIR/load/                     load_files waiting for loader (branch)
//	DIR/config/                   config tables (users.tsv ...); head office: config/GW/
//	DIR/state/PROGRAM/            a program's own state (aclog, datasync, loaded, midtable)
//	DIR/incoming/GW/              uploads not committed yet (head office)
//	DIR/attachments/GW/YYYYMMDD/  unpacked attachments by sha256 (head office)
//	DIR/PROGRAM.lock              which process runs the program on the root
//
// Any gateway or day argument may be a filepath.Glob pattern ("*").
package dataroot

import "path/filepath"

// Root is a data root's directory.
type Root string

// Sync is the directory of every gateway's sync_files.
func (r Root) Sync() string { return filepath.Join(string(r), "sync") }

// SyncGateway holds one gateway's day directories of sync_files.
func (r Root) SyncGateway(gw string) string { return filepath.Join(r.Sync(), gw) }

// SyncDay holds one gateway's sync_files of one day (YYYYMMDD).
func (r Root) SyncDay(gw, day string) string { return filepath.Join(r.SyncGateway(gw), day) }

// Load is where load_files are published for loader.
func (r Root) Load() string { return filepath.Join(string(r), "load") }

// Config holds the config tables of a branch (users, groups, apps).
func (r Root) Config() string { return filepath.Join(string(r), "config") }

// GatewayConfig holds, at head office, the config tables a gateway shipped.
func (r Root) GatewayConfig(gw string) string { return filepath.Join(r.Config(), gw) }

// State is a program's own state directory; no other program writes in it.
func (r Root) State(program string) string { return filepath.Join(string(r), "state", program) }

// PushState is datasync push's state file: what it has shipped, read by
// retention (nothing unshipped goes) and the console.
func (r Root) PushState() string { return filepath.Join(r.State("datasync"), "client.json") }

// ServeState is datasync serve's state file: what each gateway committed,
// read by its loading and the console.
func (r Root) ServeState() string { return filepath.Join(r.State("datasync"), "server.json") }

// Incoming holds, at head office, a gateway's uploads not committed yet.
func (r Root) Incoming(gw string) string { return filepath.Join(string(r), "incoming", gw) }

// Attachments holds, at head office, a gateway's unpacked attachments.
func (r Root) Attachments(gw string) string { return filepath.Join(string(r), "attachments", gw) }

// AttachmentsDay holds a gateway's unpacked attachments of one day.
func (r Root) AttachmentsDay(gw, day string) string { return filepath.Join(r.Attachments(gw), day) }

// Lock is the lock file that says which process runs program on the root.
func (r Root) Lock(program string) string { return filepath.Join(string(r), program+".lock") }
