"""OneWindow queue server: the Flask-SocketIO application, its domain, store, services and CLI."""
