"""graphene-django 3.2 over this project's models: the peer the API is measured against (bench/reads.py)."""
