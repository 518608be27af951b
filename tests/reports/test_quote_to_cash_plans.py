"""The quote-to-cash reports read through their indexes on PostgreSQL: one statement each, planned over a book of
6,000 contracts, 18,000 installments (a tenth of them unpaid) and 12,000 receipts."""

import pytest

from tests.conftest import _postgres_base_url
from tests.factories import captured_statements

BOOK = [
    """INSERT INTO customers (code, name, name_normalized, owner_id, status, custom_fields, version, created_at, updated_at)
       VALUES ('PLAN1', 'Plan customer', 'plan customer', $1, 'active', '{}', 1, now(), now())""",
    """INSERT INTO contracts (number, customer_id, customer_name, owner_id, title, amount, sign_date, start_date, end_date,
                             status, version, created_at, updated_at)
       SELECT 'P' || g, (SELECT id FROM customers WHERE code = 'PLAN1'), 'c', $1, 't', 1000 + g % 997,
              date '2023-01-01' + g % 1430, date '2023-01-01' + g % 1430, date '2028-01-01',
              (ARRAY['active', 'active', 'completed', 'terminated'])[1 + g % 4], 1, now(), now()
       FROM generate_series(1, 6000) AS g""",
    """INSERT INTO contract_installments (contract_id, due_date, amount, collected, created_at)
       SELECT c.id, c.sign_date + 90 * k, 300.00, CASE WHEN (c.id * 3 + k) % 10 = 0 THEN 100.00 ELSE 300.00 END, now()
       FROM contracts AS c CROSS JOIN generate_series(0, 2) AS k""",
    """INSERT INTO contract_receipts (installment_id, contract_id, amount, received_on, method, recorded_by_id, created_at)
       SELECT i.id, i.contract_id, i.collected, i.due_date + 3, 'bank_transfer', $1, now()
       FROM contract_installments AS i WHERE i.id % 3 <> 0""",
]
REPORTS = {
    "target-attainment?from=2026-01&to=2026-06": {"ix_contracts_sign_date", "ix_contract_receipts_received_on"},
    "contracts-vs-collected?from=2026-01-01&to=2026-06-30": {"ix_contracts_sign_date", "ix_contract_receipts_received_on"},
    "receivables-aging?as_of=2026-06-15": {"ix_contract_installments_open", "ix_contract_receipts_received_on"},
}


@pytest.mark.skipif(_postgres_base_url() is None, reason="the plans asserted are PostgreSQL's")
async def test_each_quote_to_cash_report_is_one_statement_read_through_its_indexes(app, client, actors):
    executive = await actors.make("executive")
    statements = {}
    for path in REPORTS:
        with captured_statements(app.state.db.engine) as captured:
            response = await client.get(f"/api/v1/reports/{path}", headers=executive.headers)
        assert response.status_code == 200, response.text
        # Besides the caller's sign-in, the report is one statement.
        [statements[path]] = [(s, p) for s, p in captured if "contracts" in s]
    async with app.state.db.engine.connect() as connection, connection.begin() as transaction:
        await connection.exec_driver_sql("SET LOCAL statement_timeout = 0")  # the book takes longer than a request may
        for statement in BOOK:
            await connection.exec_driver_sql(statement, (executive.id,) if "$1" in statement else ())
        for table in ("contracts", "contract_installments", "contract_receipts"):
            await connection.exec_driver_sql(f"ANALYZE {table}")
        plans = {}
        for path, (statement, parameters) in statements.items():
            rows = await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            plans[path] = "\n".join(row[0] for row in rows)
        await transaction.rollback()
    for path, indexes in REPORTS.items():
        for index in indexes:
            assert index in plans[path], f"{path} does not read {index}:\n{plans[path]}"
