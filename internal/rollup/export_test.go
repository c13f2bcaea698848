package rollup

// Dump exposes dump to the tests: the sorted rows of a query, NULL kept
// apart from every byte string.
var Dump = dump
