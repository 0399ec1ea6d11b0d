"""Alembic environment: run by `memory.db.Database.migrate` on a connection it passes in."""

from alembic import context

from memory.schema import Base

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
