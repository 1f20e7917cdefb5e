-- One row per import, file, column and kind of problem: counts only, no row contents.
select
    import_id,
    file_name,
    table_name,
    column_name,
    regexp_replace(reason, '''[^'']*''', '''…''', 'g') as problem,
    count(distinct row_number) as n_rows
from quarantine
group by all
order by import_id desc, file_name asc, n_rows desc
