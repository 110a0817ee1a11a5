"""Operations of the human measures (contracts/schemas/measures.py), one path per service."""
from contracts.http import Operation, Response, problems
from contracts.schemas import measures as m

OPERATIONS: tuple[Operation, ...] = tuple(
    Operation("get", f"/staff/v1/measures/{service}", f"How people fare, as the {service} measures it "
              "(quality and privacy officers)", "staff",
              (Response(200, "The service's human measures: whole-system figures and the caller's "
                        "department's.", m.MeasuresSchema), *problems(401, 403)),
              scopes=("user/Measure.rs",))
    for service in m.MEASURED_SERVICES)
