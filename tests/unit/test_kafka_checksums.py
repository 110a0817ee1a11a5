"""kafka-python's record checksums computed in C (services/common/kafka.py, use_fast_checksums)."""
import os

from kafka.record import default_records
from kafka.record._crc32c import crc as pure_python_crc32c
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

from services.common import kafka


def test_the_c_checksum_equals_kafka_pythons_own_for_any_bytes():
    kafka.use_fast_checksums()
    for size in (0, 1, 7, 61, 1500, 70_000):
        data = memoryview(bytearray(os.urandom(size)))
        assert default_records.calc_crc32c(data) == pure_python_crc32c(data), size
        assert default_records.calc_crc32c(data[3:]) == pure_python_crc32c(data[3:]), size


def test_a_batch_built_with_the_c_checksum_is_one_kafka_python_validates():
    kafka.use_fast_checksums()
    kafka.use_fast_checksums()  # twice is once
    assert default_records.calc_crc32c is kafka._crc32c
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                        producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                        batch_size=1 << 20)
    for n in range(3):
        builder.append(n, timestamp=1_700_000_000_000 + n, key=b"p-1", value=b'{"n": %d}' % n, headers=[])
    batch = DefaultRecordBatch(bytes(builder.build()))
    assert batch.validate_crc()
    assert [record.value for record in batch] == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']
    # and a changed byte is caught
    corrupt = bytearray(builder.build())
    corrupt[-1] ^= 0xFF
    assert not DefaultRecordBatch(bytes(corrupt)).validate_crc()
