package audit

// The mail and FTP comparison: every capture under aclog/testdata/pcaps/
// {smtp,pop3,imap,ftp} goes through the engine, and what comes out must
// equal what tshark makes of the same file:
//
//   - IMF: every message tshark's IMF dissector shows (one <proto
//     name="imf"> of its PDML) is one Mail event with equal From, To
//     (address sets, lower case), Subject (tshark's raw value unfolded and
//     its RFC 2047 words decoded) and Message-ID. IMF blocks in which tshark
//     found none of these fields are not messages (it also dissects POP3
//     LIST and UIDL replies as IMF) and are skipped.
//   - SMTP envelope: the addresses of tshark's MAIL FROM and RCPT TO
//     parameters equal the EnvFrom and EnvTo of the engine's SMTP Mail
//     events.
//   - FTP: the commands tshark shows (verb and argument; PASS arguments
//     as their length) equal those of the ftp parser fed the control
//     connections' bytes; tshark's USER arguments equal the engine's FTP
//     Credential events, and its RETR/STOR/STOU/APPE arguments the file
//     names of its FileTransfer events.
//
// As in tshark_test.go, tshark runs when it is on PATH and its results are
// kept as golden files under testdata/tshark/ (refresh with -update), so
// the comparison also runs without tshark. A difference fails unless it is
// listed, with its reason, in mailExceptions.

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acstore/acstore/aclog/internal/pcaptest"
	"github.com/acstore/acstore/aclog/internal/proto/ftp"
	"github.com/acstore/acstore/aclog/internal/proto/mail"
	"github.com/acstore/acstore/internal/testenv"
)

// textResult is what the comparison needs from tshark; every list sorted.
type textResult struct {
	TsharkVersion string   `json:"tshark_version"`
	IMF           []string `json:"imf"`           // imfString
	Envelope      []string `json:"smtp_envelope"` // "MAIL addr" / "RCPT addr"
	FTPCommands   []string `json:"ftp_commands"`  // "VERB arg"
	FTPUsers      []string `json:"ftp_users"`
	FTPFiles      []string `json:"ftp_files"` // "VERB name"
}

func imfString(from, to []string, subject, msgID string) string {
	return "from=" + strings.Join(from, ",") + " | to=" + strings.Join(to, ",") +
		" | subject=" + subject + " | message-id=" + msgID
}

// mailExceptions lists the documented differences, as exceptions does for
// tshark_test.go; kind is "imf", "envelope", "ftp", "ftp-user" or
// "ftp-file".
var mailExceptions = []exception{
	{
		file: "smtp/smtp-bdat-pipeline-8bitmime.pcap", kind: "imf",
		onlyEngine: []string{
			"from=alx.manpages@gmail.com | to=adilger@dilger.ca,aglo@umich.edu,alx.manpages@gmail.com,amir73il@gmail.com,anna.schumaker@netapp.com,ceph-devel@vger.kernel.org,darrick.wong@oracle.com,dchinner@redhat.com,drinkcat@chromium.org,gregkh@linuxfoundation.org,hch@infradead.org,iant@google.com,jlayton@kernel.org,lhenriques@suse.de,linux-cifs@vger.kernel.org,linux-fsdevel@vger.kernel.org,linux-kernel@vger.kernel.org,linux-man@vger.kernel.org,linux-nfs@vger.kernel.org,llozano@chromium.org,miklos@szeredi.hu,mtk.manpages@gmail.com,samba-technical@lists.samba.org,sfrench@samba.org,trond.myklebust@hammerspace.com,viro@zeniv.linux.org.uk,wharms@bfs.de | subject=[RFC v4] copy_file_range.2: Update cross-filesystem support for 5.12 | message-id=<20210304093806.10589-1-alx.manpages@gmail.com>",
			"from=andy.shevchenko@gmail.com | to=akpm@linux-foundation.org,andriy.shevchenko@linux.intel.com,daniel.lezcano@linaro.org,linux-kernel@vger.kernel.org,lukasz.luba@arm.com,rafael@kernel.org | subject=Re: [PATCH 1/2] units: Add the HZ_PER_KHZ macro | message-id=<CAHp75Vd5u1jHKPALfBTTqEoXf-4OAdLhsn3A-fzPw3Me=7hhMA@mail.gmail.com>",
		},
		why: "BDAT (RFC 3030 CHUNKING) with pipelining: tshark 4.0 shows only EHLO and QUIT and no IMF " +
			"(README: 0 IMF). Zeek's .expected.smtp.log has these two mails with these subjects and " +
			"message ids (checked in TestKnownMail).",
	},
	{
		file: "smtp/smtp-bdat-pipeline-8bitmime.pcap", kind: "envelope",
		onlyEngine: []string{
			"MAIL linux-kernel-owner@vger.kernel.org", "MAIL linux-kernel-owner@vger.kernel.org",
			"RCPT trafficwatcher@foundit.scootmail.com", "RCPT trafficwatcher@foundit.scootmail.com",
		},
		why: "The same BDAT session: tshark does not dissect the pipelined MAIL/RCPT/BDAT group at all. " +
			"Zeek's smtp.log: mailfrom linux-kernel-owner@vger.kernel.org, rcptto trafficwatcher@foundit.scootmail.com, twice.",
	},
	{
		file: "smtp/smtp-decrypted.pcap", kind: "imf",
		onlyEngine: []string{
			"from=bg1bulma@bg1.shewa.intradef.gouv.fr | to=naruto@shewa.intradef.gouv.fr | subject=test avec pj | message-id=<c960c96baa8943f18d71112fcfbfafbd@bg1.shewa.intradef.gouv.fr>",
			"from=bg1bulma@bg1.shewa.intradef.gouv.fr | to=naruto@shewa.intradef.gouv.fr | subject=test sans pi7ce joint | message-id=<aef51e3ea08644119c921e966163a822@bg1.shewa.intradef.gouv.fr>",
			"from=papanoel@intradef.gouv.fr | to=aponcelet@shewa.intradef.gouv.fr | subject=Ho ho ho | message-id=<964329.815327318-sendEmail@intra-mx2>",
		},
		why: "Four STARTTLS sessions stored decrypted. tshark finds 1 of the 4 mails (README): two are BDAT " +
			"(not reassembled by tshark 4.0), and in the first session tshark's SMTP dissector takes the " +
			"clear text after STARTTLS for TLS. Arkime's .expected.test has all four (subjects Ho ho ho x2, " +
			"test sans pi7ce joint, test avec pj), as the engine does.",
	},
	{
		file: "smtp/smtp-decrypted.pcap", kind: "envelope",
		onlyEngine: []string{
			"MAIL bg1bulma@bg1.shewa.intradef.gouv.fr", "MAIL bg1bulma@bg1.shewa.intradef.gouv.fr",
			"RCPT naruto@shewa.intradef.gouv.fr", "RCPT naruto@shewa.intradef.gouv.fr",
		},
		why: "The two BDAT sessions of smtp-decrypted.pcap: tshark does not show their MAIL and RCPT " +
			"commands, which follow the STARTTLS it took for the start of TLS.",
	},
	{
		file: "smtp/smtp-attachment-msg.pcap", kind: "imf",
		onlyTshark: []string{"from=attachment@example.com | to= | subject= | message-id="},
		why: "The mail carries test.msg, a message/rfc822 attachment; tshark's IMF dissector shows the " +
			"attached message as a second IMF. The engine records it as an attachment of the mail it " +
			"came in (Zeek: 1 mail, 2 files), not as a message transferred by itself.",
	},
	{
		file: "pop3/pop3_input.pcap", kind: "imf",
		onlyEngine: []string{
			"from=postmaster@jci.com | to=info@ingenierianumar.com | subject=DELIVERY FAILURE: User jesus.abram.rodriguez.garcia (jesus.abram.rodriguez.garcia@jci.com) not listed in Domino Directory | message-id=<OF6A701C31.8C76FE74-ON86257F49.00776E2E-86257F49.00778F83@jci.com>",
			"from=postmaster@mitsuba.local | to=info@ingenierianumar.com | subject=配信不能: Información Ingeniería NUMAR | message-id=<79edafda-15a5-4562-a948-61a1d991b965@mitsuba.local>",
		},
		onlyTshark: []string{
			"from= | to= | subject= | message-id=<OF6A701C31.8C76FE74-ON86257F49.00776E2E-86257F49.00778F83@jci.com>",
			"from=postmaster@jci.com | to=info@ingenierianumar.com | subject=DELIVERY FAILURE: User jesus.abram.rodriguez.garcia (jesus.abram.rodriguez.garcia@jci.com) not listed in Domino Directory | message-id=",
			"from= | to= | subject=配信不能: Información Ingeniería NUMAR | message-id=<79edafda-15a5-4562-a948-61a1d991b965@mitsuba.local>",
			"from=postmaster@mitsuba.local | to=info@ingenierianumar.com | subject= | message-id=",
		},
		why: "Two TOP replies whose header block spans several segments: tshark dissects each segment " +
			"run as its own IMF, so each message shows as two halves (one with From/To/Subject, one with " +
			"the Message-ID). The engine reassembles the reply and has each as one message whose fields " +
			"are the union of the two halves.",
	},
}

func TestMailTsharkComparison(t *testing.T) {
	var files []string
	for _, dir := range []string{"smtp", "pop3", "imap", "ftp"} {
		ents, err := os.ReadDir(filepath.Join(pcapRoot, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if n := e.Name(); !strings.Contains(n, ".expected.") && strings.HasSuffix(n, ".pcap") {
				files = append(files, dir+"/"+n)
			}
		}
	}
	if len(files) == 0 {
		t.Fatal("no mail or FTP captures under " + pcapRoot)
	}
	haveTshark := false
	if _, err := exec.LookPath("tshark"); err == nil && !testing.Short() {
		haveTshark = true
	} else if err != nil {
		if testenv.CI() {
			t.Fatal("CI=true and tshark is not on PATH (scripts/deps.sh installs it): the comparison against tshark itself cannot run")
		}
	} else if *update {
		t.Fatal("-update needs tshark")
	}
	var mu sync.Mutex
	used := make(map[int]bool)
	t.Cleanup(func() {
		for i, ex := range mailExceptions {
			if !used[i] {
				t.Errorf("mail exception for %s (%s) matches no capture", ex.file, ex.kind)
			}
		}
	})
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			golden := filepath.Join("testdata", "tshark", rel+".json")
			var want textResult
			if haveTshark {
				want = runTsharkText(t, filepath.Join(pcapRoot, rel))
				if *update {
					writeGolden(t, golden, want)
				} else if stored, err := readGolden[textResult](golden); err != nil {
					t.Errorf("golden %s: %v (run go test -update)", golden, err)
				} else if !sameText(stored, want) {
					t.Logf("golden %s (tshark %s) differs from tshark %s; run -update if the new output is right",
						golden, stored.TsharkVersion, want.TsharkVersion)
				}
			} else {
				var err error
				if want, err = readGolden[textResult](golden); err != nil {
					t.Fatalf("golden %s: %v", golden, err)
				}
			}
			got := engineText(t, filepath.Join(pcapRoot, rel))
			compareKinds(t, rel, []compared{
				{"imf", got.IMF, want.IMF},
				{"envelope", got.Envelope, want.Envelope},
				{"ftp", got.FTPCommands, want.FTPCommands},
				{"ftp-user", got.FTPUsers, want.FTPUsers},
				{"ftp-file", got.FTPFiles, want.FTPFiles},
			}, mailExceptions, used, &mu)
			t.Logf("%d IMF, %d envelope addresses, %d FTP commands", len(want.IMF), len(want.Envelope), len(want.FTPCommands))
		})
	}
}

func sameText(a, b textResult) bool {
	return slices.Equal(a.IMF, b.IMF) && slices.Equal(a.Envelope, b.Envelope) && slices.Equal(a.FTPCommands, b.FTPCommands) &&
		slices.Equal(a.FTPUsers, b.FTPUsers) && slices.Equal(a.FTPFiles, b.FTPFiles)
}

func sortText(r *textResult) {
	for _, l := range []*[]string{&r.IMF, &r.Envelope, &r.FTPCommands, &r.FTPUsers, &r.FTPFiles} {
		slices.Sort(*l)
	}
}

func addrsOf(as []mail.Address) []string {
	var out []string
	for _, a := range as {
		if a.Addr != "" {
			out = append(out, strings.ToLower(a.Addr))
		}
	}
	slices.Sort(out)
	return out
}

// engineText renders the engine's events like textResult.
func engineText(t *testing.T, path string) textResult {
	c, _ := runFile(t, path, DefaultConfig())
	var r textResult
	for _, m := range c.mail {
		if m.Message == nil {
			continue
		}
		msg := m.Message
		r.IMF = append(r.IMF, imfString(addrsOf(msg.From), addrsOf(append(slices.Clone(msg.To), msg.Cc...)), strings.TrimSpace(msg.Subject), msg.MessageID))
		if m.Proto == "smtp" {
			r.Envelope = append(r.Envelope, "MAIL "+m.EnvFrom)
			for _, to := range m.EnvTo {
				r.Envelope = append(r.Envelope, "RCPT "+to)
			}
		}
	}
	for _, cr := range c.creds {
		if cr.Proto == "ftp" {
			r.FTPUsers = append(r.FTPUsers, cr.User)
		}
	}
	for _, f := range c.files {
		if f.Proto == "ftp" {
			r.FTPFiles = append(r.FTPFiles, f.Command+" "+f.Name)
		}
	}
	r.FTPCommands = ftpCommands(t, path)
	sortText(&r)
	return r
}

// ftpCommands feeds the ftp parser the bytes of every connection to or
// from port 21 and lists the commands it reports.
func ftpCommands(t *testing.T, path string) []string {
	conns := map[int]*ftp.Conn{}
	var out []string
	for _, s := range pcaptest.Segments(t, path) {
		if s.UDP || (s.Src.Port() != 21 && s.Dst.Port() != 21) {
			continue
		}
		c := conns[s.Conn]
		if c == nil {
			c = ftp.NewConn(ftp.Handler{Command: func(cmd *ftp.Command) {
				out = append(out, strings.TrimSpace(cmd.Verb+" "+cmd.Arg))
			}})
			conns[s.Conn] = c
		}
		c.Data(s.Dst.Port() == 21, s.Data, time.Time{})
	}
	for _, c := range conns {
		c.Close(time.Time{})
	}
	return out
}
