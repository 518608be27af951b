"""Records name what their ids point at (`owner_name` beside `owner_id`), so a caller needs no second request it may
not be allowed to make.

A name is a column property of the record: a correlated subquery on the referenced row's primary key, read by the
same SELECT that reads the record (one statement for a page or a single record, no lookup per row). A record the
request wrote gets its names after the flush (new records, changed ids), and after a compare-and-set's
`UPDATE … RETURNING`, which reads the columns alone (`reload_names`). A name the request holds already (the customer
it loaded, the caller's own) is given to the session (`names_known`) and needs no lookup.
"""

from collections import defaultdict
from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import event, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, Mapped, MappedColumn, MappedSQLExpression, Session, column_property
from sqlalchemy.orm.attributes import set_committed_value

NAME_OF = "name_of"
KNOWN_NAMES = "known_names"


def name_of(name: InstrumentedAttribute[str], foreign_key: Mapped[Any]) -> MappedSQLExpression[str | None]:
    """`owner_name: Mapped[str | None] = name_of(User.full_name, owner_id)` in a model's body."""
    target = name.class_
    key = cast("MappedColumn[Any]", foreign_key).column  # in the class body, still the mapped_column() it was given
    subquery = select(name).where(target.id == key).correlate_except(target).scalar_subquery()
    # Kept across a flush (an UPDATE of other columns leaves it right); the flush events set it when the id changes.
    return column_property(subquery, info={NAME_OF: (key, name)}, expire_on_flush=False)


def _names(entity: Any) -> list[tuple[str, str, InstrumentedAttribute[str]]]:
    """(name attribute, id attribute, referenced name column) of each name the entity's model declares."""
    mapper = inspect(type(entity), raiseerr=False)
    if mapper is None:
        return []
    declared: list[tuple[str, str, InstrumentedAttribute[str]]] = []
    for prop in mapper.column_attrs:
        if NAME_OF in prop.info:
            key, name = prop.info[NAME_OF]
            declared.append((prop.key, mapper.get_property_by_column(key).key, name))
    return declared


def names_known(session: AsyncSession, name: InstrumentedAttribute[str], names: Mapping[Any, str | None]) -> None:
    """`names` (id → name of the row `name` belongs to) are known to the request: a record it writes that points at
    one of those rows is named without a lookup."""
    known = session.info.setdefault(KNOWN_NAMES, {})
    known.update({(name.class_, name.key, key): value for key, value in names.items()})


def _fill(session: Session, wanted: list[tuple[Any, str, str, InstrumentedAttribute[str]]]) -> None:
    """Sets each (entity, name attribute) to the name of the row its id points at: the name the request knows
    (`names_known`), else one query per referenced column."""
    known: dict[tuple[Any, str, Any], str | None] = session.info.get(KNOWN_NAMES, {})
    found: dict[Any, dict[Any, str | None]] = defaultdict(dict)
    ids: dict[Any, set[Any]] = defaultdict(set)
    for entity, _, id_key, name in wanted:
        referenced = getattr(entity, id_key)
        if referenced is None:
            continue
        if (name.class_, name.key, referenced) in known:
            found[name][referenced] = known[name.class_, name.key, referenced]
        else:
            ids[name].add(referenced)
    for name, values in ids.items():
        primary_key = name.class_.id
        rows = session.execute(select(primary_key, name).where(primary_key.in_(values)))
        found[name] |= {row[0]: row[1] for row in rows}
    for entity, name_key, id_key, name in wanted:
        referenced = getattr(entity, id_key)
        set_committed_value(entity, name_key, found[name].get(referenced) if referenced is not None else None)


@event.listens_for(Session, "before_flush")
def _note_new_references(session: Session, _context: Any, _instances: Any) -> None:
    wanted = session.info.setdefault("references_to_name", [])
    new = session.new  # built afresh on every access: asked per entity, it made a flush of n new rows cost n²
    for entity in (*new, *session.dirty):
        state = inspect(entity)
        for name_key, id_key, name in _names(entity):
            if entity in new or state.attrs[id_key].history.has_changes():
                wanted.append((entity, name_key, id_key, name))


@event.listens_for(Session, "after_flush_postexec")
def _name_new_references(session: Session, _context: Any) -> None:
    wanted = session.info.pop("references_to_name", [])
    if wanted:
        _fill(session, wanted)


def names_before(entity: Any) -> dict[str, Any]:
    """The names the entity has loaded now, to keep across a statement that reloads its columns only."""
    loaded = inspect(entity).dict
    return {name_key: loaded[name_key] for name_key, _, _ in _names(entity) if name_key in loaded}


async def reload_names(session: AsyncSession, entity: Any, before: dict[str, Any], changed: set[str]) -> None:
    """After `UPDATE … RETURNING` into the entity: the names `before` it whose ids did not change, the others read."""
    stale = []
    for name_key, id_key, _ in _names(entity):
        if id_key not in changed and name_key in before:
            set_committed_value(entity, name_key, before[name_key])
        else:
            stale.append(name_key)
    if stale:
        await session.refresh(entity, attribute_names=stale)
