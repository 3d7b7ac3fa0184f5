from results.importers import import_composition

from ._importing import ImportCommand


class Command(ImportCommand):
    help = import_composition.__doc__.splitlines()[0]
    importer = import_composition
