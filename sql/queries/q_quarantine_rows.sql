-- One row per quarantined row and problem, with the raw row as sent (identifiable: admins only).
select
    import_id,
    file_name,
    table_name,
    row_number,
    column_name,
    reason,
    raw_row
from quarantine
where $import_id is null or import_id = $import_id
order by import_id desc, file_name asc, row_number asc
limit 5000
