"""Code shared by the FinView services: AWS clients, the event catalogue and publisher, observability."""

from shared import compiled

# The compiled core (the import's hot modules and the phone reader) where it was built from these very sources, else
# the Python modules; chosen before any of them can be imported (see ``compiled``).
compiled.install()
