"""The node's plain logic: no Thespian, no sockets (the actors in actors/ carry it out)."""
