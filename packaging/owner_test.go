package packaging_test

import (
	"os"
	"strconv"
	"syscall"
)

// statOwner is the numeric owner of a file.
func statOwner(fi os.FileInfo) string {
	if fi == nil {
		return ""
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return strconv.Itoa(int(st.Uid))
	}
	return ""
}
