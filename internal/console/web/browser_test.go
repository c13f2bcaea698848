package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// screenshots, when set, is where TestBrowser also saves the pictures of
// the search, a report and a mail used in the README (docs/).
var screenshots = flag.String("console.screenshots", "", "save README screenshots into this directory")

// chromium finds the Debian chromium; under CI=true its absence fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found under CI=true: scripts/deps.sh installs it")
	}
	t.Skip("chromium not found (scripts/deps.sh installs it)")
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile.
func newBrowser(t *testing.T, width, height int) context.Context {
	t.Helper()
	profile, err := os.MkdirTemp("", "console-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(width, height),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(func() {
		// Close the browser and wait for it before removing its profile.
		chromedp.Cancel(ctx)
		cancel2()
		cancel()
		os.RemoveAll(profile)
	})
	ctx, cancel3 := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancel3)
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// On failure, a picture of the page into the test's output directory.
	t.Cleanup(func() {
		if t.Failed() {
			shot(t, ctx, filepath.Join(failureDir(t), t.Name()+"-failure.png"))
		}
	})
	return ctx
}

// failureDir is the test's output directory with -artifacts (go test
// -artifacts -outputdir DIR), else a directory under the system's temp
// that outlives the test, so a failure's picture is there to look at.
func failureDir(t *testing.T) string {
	if f := flag.Lookup("test.artifacts"); f != nil && f.Value.String() == "true" {
		return t.ArtifactDir()
	}
	dir := filepath.Join(os.TempDir(), "acstore-console-test")
	os.MkdirAll(dir, 0o755)
	return dir
}

func shot(t *testing.T, ctx context.Context, path string) {
	var buf []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&buf, 100)); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s", path)
}

// logIn signs in as admin at the console at url and waits for the search
// form.
func logIn(url, password string) chromedp.Tasks {
	return chromedp.Tasks{
		chromedp.Navigate(url + "/"),
		chromedp.WaitVisible("#user", chromedp.ByID),
		chromedp.SendKeys("#user", "admin", chromedp.ByID),
		chromedp.SendKeys("#password", password, chromedp.ByID),
		chromedp.Click("#login", chromedp.ByID),
		chromedp.WaitVisible("#searchform", chromedp.ByID),
	}
}

func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action) {
	t.Helper()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestBrowser drives the console in a real headless Chromium: log in,
// search (the count must equal SQL's), open a mail and download its
// attachment (the bytes must be the original's), open a report (its
// chart's series must be the rollup's sums), log out.
func TestBrowser(t *testing.T) {
	ctx := newBrowser(t, 1280, 900)
	f := newFixture(t, time.Minute)

	step(t, ctx, "log in", logIn(f.url, f.adminPW))

	// Search: U over the capture's day, host contains "ocsp".
	var total string
	step(t, ctx, "search",
		setValues(map[string]string{"t": "U", "field": "host",
			"from": dayWeb[:4] + "-" + dayWeb[4:6] + "-" + dayWeb[6:] + "T00:00:00",
			"to":   dayWeb[:4] + "-" + dayWeb[4:6] + "-" + dayWeb[6:] + "T23:59:59"}),
		chromedp.SendKeys("#q", "ocsp", chromedp.ByID),
		chromedp.Click("#go", chromedp.ByID),
		// The page before the click has a #total too (the default
		// search): wait for the page that echoes the filter.
		chromedp.WaitVisible(`input#q[value="ocsp"]`, chromedp.ByQuery),
		// The total arrives after the page (/search/count).
		chromedp.WaitVisible("#total[data-done]", chromedp.ByQuery),
		chromedp.Text("#total", &total, chromedp.ByID),
	)
	want := f.count(t, "SELECT COUNT(*) FROM U"+dayWeb+" WHERE host LIKE '%ocsp%'")
	if want == 0 || total != strconv.FormatInt(want, 10) {
		t.Fatalf("search shows %q rows, SQL counts %d", total, want)
	}
	var shown int
	step(t, ctx, "count rows", chromedp.Evaluate(`document.querySelectorAll("#rows tbody tr").length`, &shown))
	if int64(shown) != min(want, 50) {
		t.Errorf("page shows %d rows, want %d", shown, min(want, 50))
	}
	if *screenshots != "" {
		shot(t, ctx, filepath.Join(*screenshots, "console-search.png"))
	}

	// Mail: the "zip test" message and its attachment.
	var id uint64
	must(t, f.db.QueryRow("SELECT id FROM M"+dayMail+" WHERE gw = ? AND mail_subject = 'zip test'", gwMain).Scan(&id))
	dl := t.TempDir()
	var subject, body string
	step(t, ctx, "open mail",
		chromedp.Navigate(fmt.Sprintf("%s/search?t=M&from=2013-12-17T00:00&to=2013-12-18T00:00&gw=%s", f.url, gwMain)),
		chromedp.WaitVisible("#rows", chromedp.ByID),
		chromedp.Click(fmt.Sprintf(`a[href="/mail/M%s/%s/%d"]`, dayMail, gwMain, id), chromedp.ByQuery),
		chromedp.WaitVisible("#mail", chromedp.ByID),
		chromedp.Text("#subject", &subject, chromedp.ByID),
		chromedp.Text("#body", &body, chromedp.ByID),
	)
	if subject != "zip test" || !strings.Contains(body, "a zip test") {
		t.Errorf("mail shows subject %q body %q", subject, body)
	}
	if *screenshots != "" {
		shot(t, ctx, filepath.Join(*screenshots, "console-mail.png"))
	}
	got := download(t, ctx, dl, "#attachments a.att")
	sum := sha256.Sum256(got.data)
	// The attachment's sha256, from aclog/testdata/pcaps/README.md.
	const zipSHA = "61479904e443b354d4427a51b990c696f731e341e4c63328e07c1a92658ba591"
	if hex.EncodeToString(sum[:]) != zipSHA || got.name != "a.zip" {
		t.Errorf("downloaded %q, %d bytes, sha256 %x; want a.zip with sha256 %s", got.name, len(got.data), sum, zipSHA)
	}

	// Report: bytes_down by user over the day, from MidAU.
	var series []float64
	var parts string
	step(t, ctx, "report",
		chromedp.Navigate(fmt.Sprintf("%s/report/traffic?from=2022-03-17T00:00&to=2022-03-18T00:00&by=U&m=bytes_down&top=10", f.url)),
		chromedp.WaitVisible("#chart canvas", chromedp.ByQuery),
		chromedp.Evaluate(`echarts.getInstanceByDom(document.getElementById("chart")).getOption().series[0].data`, &series),
		chromedp.Text("#parts", &parts, chromedp.ByID),
	)
	rows, err := f.db.Query("SELECT CAST(SUM(bytes_down) AS UNSIGNED) FROM MidAU4H" + dayWeb + " GROUP BY user ORDER BY 1 DESC, user LIMIT 10")
	must(t, err)
	var sums []float64
	for rows.Next() {
		var v uint64
		must(t, rows.Scan(&v))
		sums = append(sums, float64(v))
	}
	rows.Close()
	if len(sums) == 0 || fmt.Sprint(series) != fmt.Sprint(sums) {
		t.Errorf("chart series %v, rollup sums %v", series, sums)
	}
	if !strings.Contains(parts, "MidAU4H"+dayWeb) {
		t.Errorf("tables used %q, want MidAU4H%s", parts, dayWeb)
	}
	if *screenshots != "" {
		shot(t, ctx, filepath.Join(*screenshots, "console-report.png"))
		step(t, ctx, "phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Reload(),
			chromedp.WaitVisible("#chart canvas", chromedp.ByQuery))
		shot(t, ctx, filepath.Join(*screenshots, "console-phone.png"))
		step(t, ctx, "laptop", chromedp.EmulateViewport(1280, 900))
	}

	// Log out: the session is gone, a page sends back to the login.
	var loc string
	step(t, ctx, "log out",
		chromedp.Click("#logout", chromedp.ByID),
		chromedp.WaitVisible("#login", chromedp.ByID),
		chromedp.Navigate(f.url+"/search"),
		chromedp.WaitVisible("#login", chromedp.ByID),
		chromedp.Location(&loc),
	)
	if !strings.HasSuffix(loc, "/login") {
		t.Errorf("after logout /search went to %s", loc)
	}
}

// setValues sets form controls by id, as a user picking from a select or
// a date picker does.
func setValues(v map[string]string) chromedp.Action {
	js := ""
	for id, val := range v {
		js += fmt.Sprintf("document.getElementById(%q).value = %q;", id, val)
	}
	return chromedp.Evaluate(js+"true", nil)
}

type downloaded struct {
	name string
	data []byte
}

// download clicks a link and waits for the browser to save the file.
func download(t *testing.T, ctx context.Context, dir, sel string) downloaded {
	t.Helper()
	done := make(chan string, 1)
	var name string
	chromedp.ListenTarget(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *browser.EventDownloadWillBegin:
			name = ev.SuggestedFilename
		case *browser.EventDownloadProgress:
			if ev.State == browser.DownloadProgressStateCompleted {
				select {
				case done <- ev.GUID:
				default:
				}
			}
		}
	})
	step(t, ctx, "download "+sel,
		browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllowAndName).WithDownloadPath(dir).WithEventsEnabled(true),
		chromedp.Click(sel, chromedp.ByQuery),
	)
	select {
	case guid := <-done:
		data, err := os.ReadFile(filepath.Join(dir, guid))
		if err != nil {
			t.Fatal(err)
		}
		return downloaded{name: name, data: data}
	case <-time.After(30 * time.Second):
		t.Fatal("download did not complete")
	}
	return downloaded{}
}
