"""Code shared by the FinView services: AWS clients, the event catalogue and publisher, observability."""
