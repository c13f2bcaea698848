package web

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/acstore/acstore/internal/schema"
	"github.com/acstore/acstore/internal/spider"
)

// logs is where one request reads the logs and rollups: the console's own
// database, or, at a head office past one server, the Spider front, read
// only in the partitions of the shards that answered when the request
// began (rd; nil without a front). A shard that is down thus leaves its
// gateways out of an answer, which says so, instead of failing it.
type logs struct {
	db *sql.DB
	rd *spider.Reading
}

func (s *Server) logs(ctx context.Context) (logs, error) {
	if s.cfg.Front == nil {
		return logs{db: s.db}, nil
	}
	db, err := s.cfg.Front.DB(ctx)
	if err != nil {
		return logs{}, err
	}
	return logs{db: db, rd: s.cfg.Front.Reading(ctx)}, nil
}

// from is what a statement reads table as (nil: the table itself).
func (l logs) from() func(string) string {
	if l.rd == nil {
		return nil
	}
	return l.rd.From
}

// missing names the shards the tables read so far lacked.
func (l logs) missing() []string {
	if l.rd == nil {
		return nil
	}
	return l.rd.Missing()
}

// rowDown returns an error when the shard that holds gw's rows of the day
// table day is down: the row may exist, and saying "no such row" would be
// wrong.
func (l logs) rowDown(day, gw string) error {
	if l.rd == nil {
		return nil
	}
	_, d, err := schema.ParseDayTable(day, time.Local)
	if err != nil {
		return nil
	}
	if sh := l.rd.ShardOf(gw, d.Format(schema.DayLayout)); !l.rd.Up(sh) {
		return fmt.Errorf("shard %s, which holds gateway %s's rows of %s, is unavailable", sh, gw, d.Format(schema.DayLayout))
	}
	return nil
}

// shardOf names the shard of gw today and whether it answered (for the
// branches page); "" without a front.
func (l logs) shardOf(gw string, now time.Time) (string, bool) {
	if l.rd == nil {
		return "", false
	}
	sh := l.rd.ShardOf(gw, now.Format(schema.DayLayout))
	return sh, l.rd.Up(sh)
}

// unavailable is an error answered 503 with its text: a shard is down.
type unavailable struct{ error }

func (u unavailable) Unwrap() error { return u.error }
