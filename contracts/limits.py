"""How long the ids and free text of contract v1 may be.

Every request field that is stored or travels in an event has a bound: an event must fit
one Kafka message (services.common.kafka.MAX_MESSAGE_BYTES, 4 MiB), and one patient's long
field must not stall the events of every other patient. A longer value is a 422 naming the
field. The schemas in contracts/schemas/ declare these bounds; views that read a body
without a schema check the same numbers.
"""

#: Ids: patients (a FHIR id is at most 64 characters, FHIR R4 section 2.24.0.1), grantees,
#: accounts, caregivers (UUIDs, 36).
ID_MAX = 64

#: A department's written reason (break-the-glass, and each sensitive label it names).
REASON_MAX = 1000

#: What a patient writes: symptom notes, what is wrong with a record, the correction wanted.
TEXT_MAX = 2000
