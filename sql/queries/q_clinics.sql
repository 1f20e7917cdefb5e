-- One row per clinic in the viewer's scope.
select
    clinic_id,
    clinic_name,
    region,
    offers_mmt,
    offers_bmt,
    offers_hat,
    dose_policy
from clinics
where list_contains($scope_clinic_ids, clinic_id)
order by clinic_id
