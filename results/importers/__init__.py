"""The CSV importers, one module per format; their shared reading, checking and writing in ``csvfile``.

Everything the management commands, the console's import page and the tests
use is re-exported here: ``from results.importers import import_candidates``.
"""

from .candidates import CANDIDATE_COLUMNS, CANDIDATE_OPTIONAL, import_candidates
from .composition import COMPOSITION_COLUMNS, COMPOSITION_OPTIONAL, import_composition
from .csvfile import ImportFailed, ImportReport, RowError
from .previous_winners import PREVIOUS_COLUMNS, PREVIOUS_OPTIONAL, import_previous_winners

__all__ = [
    "CANDIDATE_COLUMNS",
    "CANDIDATE_OPTIONAL",
    "COMPOSITION_COLUMNS",
    "COMPOSITION_OPTIONAL",
    "PREVIOUS_COLUMNS",
    "PREVIOUS_OPTIONAL",
    "ImportFailed",
    "ImportReport",
    "RowError",
    "import_candidates",
    "import_composition",
    "import_previous_winners",
]
