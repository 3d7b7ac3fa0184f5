"""The data desk's console: election night in the Django admin (its site, model admins, login throttle,
templates and static files). It writes nothing itself: every change goes through ``results.services``."""
