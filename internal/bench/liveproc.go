package bench

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// What the live measurement reads of the kernel's accounts (/proc). They
// are read around and during a send, not from the rusage of a finished
// process, so that a figure covers the send alone: aclog's start (its
// rings are allocated and zeroed) and its stop (every open session is
// ended and written out, about a third of a short trial's CPU) are not
// traffic and do not count per packet.

// userHz is the unit of the CPU times in /proc/PID/stat and /proc/stat
// (USER_HZ, 100 on every Linux port Go supports).
const userHz = 100

// procCPU is the user and system time process pid has used so far, all
// its threads together; 0 when it cannot be read.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from after its closing parenthesis, where field 3 (state) begins.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / userHz
}

// schedStat is how long a task ran on a CPU and how long it waited,
// runnable, for one (/proc/PID/schedstat).
type schedStat struct{ run, wait time.Duration }

func readSchedStat(pid int) (schedStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/schedstat")
	if err != nil {
		return schedStat{}, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return schedStat{}, false
	}
	run, _ := strconv.ParseInt(f[0], 10, 64)
	wait, _ := strconv.ParseInt(f[1], 10, 64)
	return schedStat{time.Duration(run), time.Duration(wait)}, true
}

// waitedShare is the part of the time the task was runnable that it spent
// waiting for a CPU: near 0 on a quiet machine, near 1 when others take
// the CPUs; then the wall-clock rate says little about the task.
func (s schedStat) waitedShare() float64 {
	if s.run+s.wait <= 0 {
		return 0
	}
	return float64(s.wait) / float64(s.run+s.wait)
}

// watchSched follows a started command's schedstat until stop is called,
// which returns the last reading (a tenth of a second before its end at
// worst: the figure is a share, not a sum). The command's pid is the
// task's: `ip netns exec` execs the program it runs.
func watchSched(cmd *exec.Cmd) (stop func() schedStat) {
	var (
		mu   sync.Mutex
		last schedStat
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if s, ok := readSchedStat(cmd.Process.Pid); ok {
				mu.Lock()
				last = s
				mu.Unlock()
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() schedStat {
		close(done)
		wg.Wait()
		return last
	}
}

// softirq is the time all CPUs have spent in softirqs since boot
// (/proc/stat).
func softirq() time.Duration {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 7 && fields[0] == "cpu" {
			n, _ := strconv.ParseInt(fields[7], 10, 64)
			return time.Duration(n) * time.Second / userHz
		}
	}
	return 0
}
