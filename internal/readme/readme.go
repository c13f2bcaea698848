// Package readme reads the commands and queries out of the README's code
// blocks, so that a test can run them as written and the README cannot
// drift from the programs.
package readme

import (
	"bufio"
	"regexp"
	"strings"
)

// Block is a fenced code block: its language and its logical lines.
type Block struct {
	Lang  string
	Line  int      // line of the opening fence in the file
	Lines []string // continuation lines (ending in \) joined, comments removed
}

// trailingComment is a comment after a command: two spaces or more, then #.
var trailingComment = regexp.MustCompile(`\s{2,}#.*$`)

// Parse returns the fenced code blocks of a markdown text.
func Parse(text string) []Block {
	var blocks []Block
	var cur *Block
	var pending string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			if cur == nil {
				blocks = append(blocks, Block{Lang: strings.TrimSpace(strings.TrimPrefix(line, "```")), Line: n})
				cur = &blocks[len(blocks)-1]
			} else {
				cur, pending = nil, ""
			}
			continue
		}
		if cur == nil {
			continue
		}
		if cur.Lang == "sql" {
			cur.Lines = append(cur.Lines, line)
			continue
		}
		trimmed := strings.TrimSpace(line)
		if pending == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		line = trailingComment.ReplaceAllString(line, "")
		if strings.HasSuffix(line, `\`) {
			pending += strings.TrimSuffix(line, `\`)
			continue
		}
		cur.Lines = append(cur.Lines, strings.Join(strings.Fields(pending+line), " "))
		pending = ""
	}
	return blocks
}

// Statements splits SQL text into statements at semicolons that end a
// line, dropping -- comments.
func Statements(lines []string) []string {
	var out []string
	var cur []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur = append(cur, t)
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSuffix(strings.Join(cur, " "), ";"))
			cur = nil
		}
	}
	return out
}
