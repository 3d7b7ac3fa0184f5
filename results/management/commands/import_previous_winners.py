from results.importers import import_previous_winners

from ._importing import ImportCommand


class Command(ImportCommand):
    help = import_previous_winners.__doc__.splitlines()[0]
    importer = import_previous_winners
