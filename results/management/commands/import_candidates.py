from results.importers import import_candidates

from ._importing import ImportCommand


class Command(ImportCommand):
    help = import_candidates.__doc__.splitlines()[0]
    importer = import_candidates
