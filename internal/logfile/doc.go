// Package logfile holds the files rows travel in between aclog and the
// database: sync_files (one per gateway, table and 5-minute window, a
// sequence of LZ4 or xz frames of row text, kept and shipped to head
// office) and load_files (plain row text that loader loads and deletes),
// their names, the row text itself (Encoder, SplitRow), the writer (Spool)
// and the reader (OpenRows, StatFile, Verify).
//
// The lifecycle of a sync_file: the Spool appends whole frames to
// NAME.dat.part while its window is open, fsyncing each; when the window
// ends (plus a grace period) it renames the file to NAME.dat, and only
// then may datasync ship it or loader backfill from it. A row reaches a
// load_file only after it is durable in its sync_file, so the database
// never holds a row the files lack. A writer killed at any moment leaves
// files whose complete frames all read back: the reader returns the rows
// before a torn tail and reports the tail as a *CorruptionError, and the
// next Spool seals every .part it finds at start.
//
// FORMAT.md in this directory is the byte-level description.
package logfile
