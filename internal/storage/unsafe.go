package storage

import "unsafe"

// unsafeString lends a batch buffer to the write API without copying it.
// The API only reads the string during the call, and the buffer is not
// reused until the call returns.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
