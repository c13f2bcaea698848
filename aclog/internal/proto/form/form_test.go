package form

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	f, files, ok := Parse("application/x-www-form-urlencoded", []byte("user=%E5%BC%A0&password=hunter2&q=a+b&Passwd="), DefaultLimits)
	if !ok || len(files) != 0 || len(f) != 4 || f[0].Value != "张" || !f[1].Masked || f[1].Value != Mask || f[1].Len != 7 ||
		f[2].Value != "a b" || !f[3].Masked {
		t.Errorf("urlencoded: %+v", f)
	}
	if got := Encode(f); got != "user=%E5%BC%A0&password=***&q=a+b&Passwd=***" || strings.Contains(got, "hunter2") {
		t.Errorf("Encode %q", got)
	}
	body := "--XX\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n" +
		"--XX\r\nContent-Disposition: form-data; name=\"pwd\"\r\n\r\nsecret\r\n" +
		"--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nline1\r\nline2\r\n" +
		"--XX\r\nContent-Disposition: form-data; name=\"g\"; filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n\r\n--XX--\r\n"
	f, files, ok = Parse("multipart/form-data; boundary=XX", []byte(body), DefaultLimits)
	if !ok || len(f) != 2 || f[0].Value != "hello" || !f[1].Masked || len(files) != 1 || files[0].Name != "a.txt" ||
		string(files[0].Content) != "line1\r\nline2" || files[0].Size != 12 || files[0].Type != "text/plain" {
		t.Errorf("multipart: %+v %+v", f, files)
	}
	if _, _, ok := Parse("application/json", []byte(`{"a":1}`), DefaultLimits); ok {
		t.Error("JSON parsed as a form")
	}
	for name, want := range map[string]bool{"password": true, "user_pin": true, "shipping": false, "spinner": false, "access_token": true, "name": false} {
		if Sensitive(name) != want {
			t.Errorf("Sensitive(%q) = %v", name, !want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\nabc\r\n--b--\r\n"))
	f.Add("application/x-www-form-urlencoded", []byte("a=1&pass=%zz&&=&b"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		lim := Limits{MaxFields: 10, MaxValue: 64, MaxFile: 128, MaxParts: 10}
		fields, files, _ := Parse(ct, body, lim)
		if len(fields) > lim.MaxFields || len(files) > lim.MaxParts {
			t.Fatalf("%d fields, %d files", len(fields), len(files))
		}
		for _, x := range fields {
			if len(x.Value) > lim.MaxValue || (x.Masked && x.Value != Mask) {
				t.Fatalf("field %+v", x)
			}
		}
		for _, x := range files {
			if len(x.Content) > lim.MaxFile || int64(len(x.Content)) > x.Size {
				t.Fatalf("file %d of %d", len(x.Content), x.Size)
			}
		}
		_ = Encode(fields)
	})
}
