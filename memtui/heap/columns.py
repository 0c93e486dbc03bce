"""The columns of a class diff, as `diff --json` names them and `diff --sort` takes them
(a module of its own so the command line reads them without loading the analysis)."""

DIFF_COLUMNS = ("class", "count_before", "count_after", "new", "deleted", "count_delta",
                "size_before", "size_after", "alloc_size", "freed_size", "size_delta",
                "location")
