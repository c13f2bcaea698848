package audit

// appName is the application protocol recognised on a session, as an
// index into appNames: one byte in the session, where the name took 16.
type appName uint8

// Applications recognised without a parser of their own; the rest are
// named by appNamed from what the stream detection calls them.
const (
	appNone appName = iota
	appDNS
	appTFTP
	appSSDP
	appFTPData
)

// appNames are the names Session.App takes, by appName.
var appNames = [...]string{"", "dns", "tftp", "ssdp", "ftp-data", "http", "tls", "smtp", "pop3", "imap", "ftp", "irc", "xmpp", "telnet"}

func (a appName) String() string { return appNames[a] }

// appNamed returns the appName of name, appNone for one not in appNames.
func appNamed(name string) appName {
	for i, n := range appNames {
		if n == name {
			return appName(i)
		}
	}
	return appNone
}
