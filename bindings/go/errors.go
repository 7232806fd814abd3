// SPDX-License-Identifier: LGPL-2.1-or-later
// errors.go: the reader's errors, one per libdnsdisc error code, with dnsdisc_strerror()'s words.

package dnsdisc

import (
	"errors"
	"fmt"
	"io/fs"
)

// The errors of this package; match them with errors.Is. Errors that carry a
// service name or path wrap one of these.
var (
	// ErrNoCache: there is no cache file at the path (-ENOENT): dnsdiscd is not running,
	// or not configured for this path. Open's error then also matches fs.ErrNotExist.
	ErrNoCache = errors.New("no cache file: dnsdiscd is not running")
	// ErrNoService: the cache has no service of that name (-ESRCH), or it was removed.
	ErrNoService = errors.New("unknown service")
	// ErrNoBackend: the service has nothing to pick (-EHOSTUNREACH): no backend, or
	// none healthy with panic off, or a negative or error state.
	ErrNoBackend = errors.New("no backend available")
	// ErrIncompatible: the file is of another major format version (-EPROTONOSUPPORT).
	ErrIncompatible = errors.New("incompatible cache file version")
	// ErrCorrupt: the file breaks the format (-EBADMSG). Nothing was read outside it.
	ErrCorrupt = errors.New("corrupt cache file")
	// ErrBusy: a slot stayed mid-write for 1000 reads (-EAGAIN): a writer died
	// mid-write or the file is hostile. Try again later.
	ErrBusy = errors.New("cache kept changing: try again")
	// ErrStaleEndpoint: the endpoint is no longer in its service's set (-ESTALE).
	ErrStaleEndpoint = errors.New("endpoint no longer in the service's set")
	// ErrNoHashTable: the service has no consistent-hash table (-EOPNOTSUPP): it is
	// configured with hash = off (the default), or by a writer older than format 1.1.
	ErrNoHashTable = errors.New("no consistent-hash table (hash = off)")
	// ErrNotLeastPick: Release of an endpoint that PickLeast did not return (-EINVAL).
	ErrNotLeastPick = errors.New("endpoint not picked by PickLeast")
	// ErrClosed: the Cache was closed.
	ErrClosed = errors.New("cache closed")
)

// Error is an error about one service or file: Op says what was done, Name
// which service or path, Err which of the errors above (or an OS error).
type Error struct {
	Op   string
	Name string
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("dnsdisc: %s %s: %v", e.Op, e.Name, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Is lets a missing cache file match both ErrNoCache and fs.ErrNotExist.
func (e *Error) Is(target error) bool {
	return target == ErrNoCache && errors.Is(e.Err, fs.ErrNotExist)
}

func wrap(op, name string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, Name: name, Err: err}
}
