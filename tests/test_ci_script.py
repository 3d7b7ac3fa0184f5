"""`.ci/run` runs under `set -o pipefail`: a reader that stops early (`grep -q`, `head`) makes the writer fail with
SIGPIPE (curl's exit 23) whenever it closes the pipe first, a failure that depends on timing. The script captures
output, then matches it."""

import re
from pathlib import Path

CI = Path(__file__).resolve().parent.parent / ".ci" / "run"
EARLY_READER = re.compile(r"\|\s*(grep\b[^|]*\s-[a-zA-Z]*[qm]|head\b|sed\s+-n\s*[0-9]+q)")


def test_ci_runs_under_pipefail():
    assert "set -euo pipefail" in CI.read_text()


def test_no_ci_pipe_ends_in_a_reader_that_stops_early():
    lines = [line for line in CI.read_text().splitlines() if not line.lstrip().startswith("#")]
    assert [line for line in lines if EARLY_READER.search(line)] == []


def test_the_early_reader_pattern_catches_the_pipes_that_flaked():
    assert EARLY_READER.search('curl -fsS "$url" | grep -q "Labour gain"')
    assert EARLY_READER.search("ls -1 dir | head -3")
    assert not EARLY_READER.search('grep -q "Admin login" "$demo_dir/demo.log"')
