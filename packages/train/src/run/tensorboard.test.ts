// TensorBoard event files, read back by a reader written here from the format's description (not
// from the writer's code): TFRecord framing with both masked CRC32Cs checked by a bitwise CRC, and
// the Event / Summary / Value / SessionLog protocol buffers decoded field by field.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { crc32c, maskedCrc32c, tensorBoardEventFiles, TensorBoardWriter } from "../index.js";

/** CRC-32C bit by bit (reflected polynomial 0x82f63b78), independent of the writer's table. */
function crcBitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
const mask = (crc: number): number => ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;

interface Field {
  readonly field: number;
  readonly wire: number;
  readonly value: bigint | Uint8Array;
}

/** The fields of a protocol buffer message, in order. */
function parseMessage(bytes: Uint8Array): Field[] {
  const fields: Field[] = [];
  let at = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (at >= bytes.length) throw new Error("varint runs past the end");
      const b = bytes[at++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return v;
    }
  };
  while (at < bytes.length) {
    const key = Number(varint());
    const field = key >> 3;
    const wire = key & 7;
    if (wire === 0) fields.push({ field, wire, value: varint() });
    else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4;
      fields.push({ field, wire, value: bytes.slice(at, at + size) });
      at += size;
    } else if (wire === 2) {
      const size = Number(varint());
      fields.push({ field, wire, value: bytes.slice(at, at + size) });
      at += size;
    } else throw new Error(`unexpected wire type ${wire}`);
    if (at > bytes.length) throw new Error("field runs past the end");
  }
  return fields;
}

interface Event {
  wallTime?: number;
  step?: number;
  fileVersion?: string;
  values?: { tag: string; simpleValue: number }[];
  sessionStatus?: number;
}

/** Event (tensorflow/core/util/event.proto): wall_time 1 (double), step 2 (int64), file_version 3, summary 5, session_log 7. */
function parseEvent(bytes: Uint8Array): Event {
  const e: Event = {};
  for (const f of parseMessage(bytes)) {
    const b = f.value as Uint8Array;
    if (f.field === 1 && f.wire === 1) e.wallTime = new DataView(b.buffer, b.byteOffset).getFloat64(0, true);
    else if (f.field === 2 && f.wire === 0) e.step = Number(f.value as bigint);
    else if (f.field === 3 && f.wire === 2) e.fileVersion = new TextDecoder().decode(b);
    else if (f.field === 5 && f.wire === 2) {
      // Summary: repeated Value value = 1; Value: tag 1 (string), simple_value 2 (float).
      e.values = parseMessage(b).filter((v) => v.field === 1).map((v) => {
        const value = { tag: "", simpleValue: NaN };
        for (const g of parseMessage(v.value as Uint8Array)) {
          const c = g.value as Uint8Array;
          if (g.field === 1 && g.wire === 2) value.tag = new TextDecoder().decode(c);
          if (g.field === 2 && g.wire === 5) value.simpleValue = new DataView(c.buffer, c.byteOffset).getFloat32(0, true);
        }
        return value;
      });
    } else if (f.field === 7 && f.wire === 2) {
      e.sessionStatus = Number(parseMessage(b).find((g) => g.field === 1)?.value ?? 0n); // SessionLog.status: START = 1
    } else throw new Error(`unexpected Event field ${f.field}`);
  }
  return e;
}

/** The records of a TFRecord file, every length and data CRC checked. */
function readRecords(bytes: Uint8Array): Uint8Array[] {
  const records: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at < bytes.length) {
    if (at + 12 > bytes.length) throw new Error(`truncated record header at byte ${at}`);
    const length = Number(view.getBigUint64(at, true));
    if (view.getUint32(at + 8, true) !== mask(crcBitwise(bytes.subarray(at, at + 8)))) throw new Error(`bad length CRC at byte ${at}`);
    const data = bytes.subarray(at + 12, at + 12 + length);
    if (at + 16 + length > bytes.length) throw new Error(`truncated record at byte ${at}`);
    if (view.getUint32(at + 12 + length, true) !== mask(crcBitwise(data))) throw new Error(`bad data CRC at byte ${at}`);
    records.push(data);
    at += 16 + length;
  }
  return records;
}

const readEvents = async (path: string): Promise<Event[]> => readRecords(new Uint8Array(await readFile(path))).map(parseEvent);

// Google's own protobuf parser, where Debian's python3-protobuf is installed: TensorFlow's Event,
// Summary and SessionLog messages declared with their field numbers and types (event.proto,
// summary.proto), the records framed and checked in Python, each parsed with Event.FromString and
// refused if any field is unknown to it (a wrong field number or wire type).
const PYTHON = "/usr/bin/python3";
const hasProtobuf = spawnSync(PYTHON, ["-c", "import google.protobuf"], { stdio: "ignore" }).status === 0;
const PY_READER = String.raw`
import json, struct, sys
from google.protobuf import descriptor_pb2 as d, descriptor_pool, json_format, message_factory
F = d.FieldDescriptorProto
fdp = d.FileDescriptorProto(name="event.proto", package="tensorflow", syntax="proto3")
summary = fdp.message_type.add(name="Summary")
value = summary.nested_type.add(name="Value")
value.oneof_decl.add(name="value")
value.field.add(name="tag", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
value.field.add(name="simple_value", number=2, type=F.TYPE_FLOAT, label=F.LABEL_OPTIONAL, oneof_index=0)
summary.field.add(name="value", number=1, type=F.TYPE_MESSAGE, type_name=".tensorflow.Summary.Value", label=F.LABEL_REPEATED)
log = fdp.message_type.add(name="SessionLog")
status = log.enum_type.add(name="SessionStatus")
for i, n in enumerate(["STATUS_UNSPECIFIED", "START", "STOP", "CHECKPOINT"]): status.value.add(name=n, number=i)
log.field.add(name="status", number=1, type=F.TYPE_ENUM, type_name=".tensorflow.SessionLog.SessionStatus", label=F.LABEL_OPTIONAL)
event = fdp.message_type.add(name="Event")
event.oneof_decl.add(name="what")
event.field.add(name="wall_time", number=1, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
event.field.add(name="step", number=2, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
event.field.add(name="file_version", number=3, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL, oneof_index=0)
event.field.add(name="summary", number=5, type=F.TYPE_MESSAGE, type_name=".tensorflow.Summary", label=F.LABEL_OPTIONAL, oneof_index=0)
event.field.add(name="session_log", number=7, type=F.TYPE_MESSAGE, type_name=".tensorflow.SessionLog", label=F.LABEL_OPTIONAL, oneof_index=0)
pool = descriptor_pool.DescriptorPool()
pool.Add(fdp)
desc = pool.FindMessageTypeByName("tensorflow.Event")
Event = message_factory.GetMessageClass(desc) if hasattr(message_factory, "GetMessageClass") else message_factory.MessageFactory(pool).GetPrototype(desc)
def crc32c(b):
    crc = 0xFFFFFFFF
    for x in b:
        crc ^= x
        for _ in range(8): crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    crc ^= 0xFFFFFFFF
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
data = open(sys.argv[1], "rb").read()
at, out = 0, []
while at < len(data):
    (n,) = struct.unpack_from("<Q", data, at)
    assert struct.unpack_from("<I", data, at + 8)[0] == crc32c(data[at:at + 8]), "length crc"
    body = data[at + 12:at + 12 + n]
    assert struct.unpack_from("<I", data, at + 12 + n)[0] == crc32c(body), "data crc"
    e = Event.FromString(body)
    def unknown(m):
        return len(m.UnknownFields()) + sum(unknown(v) for f, v in m.ListFields() if f.type == F.TYPE_MESSAGE and f.label != F.LABEL_REPEATED) + sum(unknown(x) for f, v in m.ListFields() if f.type == F.TYPE_MESSAGE and f.label == F.LABEL_REPEATED for x in v)
    assert unknown(e) == 0, "unknown fields"
    out.append(json_format.MessageToDict(e))
    at += 16 + n
print(json.dumps(out))
`;

describe("CRC-32C", () => {
  it("matches the standard check values (RFC 3720 B.4) and the bitwise definition", () => {
    const ascii = new TextEncoder().encode("123456789");
    expect(crc32c(ascii)).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    const random = Uint8Array.from({ length: 1000 }, (_, i) => (i * 2654435761) >>> 24);
    expect(crc32c(random)).toBe(crcBitwise(random));
    expect(maskedCrc32c(random)).toBe(mask(crcBitwise(random)));
  });
});

describe("TensorBoardWriter", () => {
  it("writes TFRecords of Events that a reader of the format decodes: file version, scalars as simple_value, steps, wall times", async () => {
    const dir = join(await mkdtemp(join(tmpdir(), "tb-")), "logs");
    const before = Date.now() / 1000;
    const w = await TensorBoardWriter.open(dir, { now: new Date(Date.UTC(2030, 0, 1)) });
    w.scalars(1, { "train/loss": 4.17, "train/lr": 0.002, "train/grad_norm": 1.5 });
    w.scalars(2, { "train/loss": 3.9 });
    w.scalars(2, { "validation/loss": 3.5 }, 1234.5);
    w.close();
    expect(w.path).toBe(join(dir, (await tensorBoardEventFiles(dir))[0]!));
    expect(w.path).toMatch(/events\.out\.tfevents\.1893456000\.[^/]+\.\d+\.0$/);
    const events = await readEvents(w.path);
    expect(events[0]).toMatchObject({ step: 0, fileVersion: "brain.Event:2" });
    expect(events[0]!.wallTime!).toBeGreaterThanOrEqual(before - 1);
    expect(events.slice(1).map((e) => [e.step, e.values])).toEqual([
      [1, [{ tag: "train/loss", simpleValue: Math.fround(4.17) }, { tag: "train/lr", simpleValue: Math.fround(0.002) }, { tag: "train/grad_norm", simpleValue: 1.5 }]],
      [2, [{ tag: "train/loss", simpleValue: Math.fround(3.9) }]],
      [2, [{ tag: "validation/loss", simpleValue: 3.5 }]],
    ]);
    expect(events[3]!.wallTime).toBe(1234.5);
  });

  it("a resumed run's file sorts after the earlier ones and starts with a session start at its first new step", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tb-"));
    const now = new Date(Date.UTC(2030, 0, 1));
    const first = await TensorBoardWriter.open(dir, { now });
    first.scalars(7, { "train/loss": 1 });
    first.close();
    const resumed = await TensorBoardWriter.open(dir, { now, purgeStep: 6 }); // the same second: still after
    resumed.scalars(6, { "train/loss": 1.5 });
    resumed.close();
    const files = await tensorBoardEventFiles(dir);
    expect(files.map((f) => join(dir, f))).toEqual([first.path, resumed.path]);
    const events = await readEvents(resumed.path);
    expect(events.map((e) => [e.step, e.fileVersion ?? null, e.sessionStatus ?? null])).toEqual([
      [6, "brain.Event:2", null],
      [6, null, 1], // SessionLog.START: TensorBoard drops the earlier file's events of steps >= 6
      [6, null, null],
    ]);
  });

  it.skipIf(!hasProtobuf)("Google's protobuf (python3-protobuf) parses every event, with no unknown field", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tb-"));
    const w = await TensorBoardWriter.open(dir, { purgeStep: 41 });
    w.scalars(41, { "train/loss": 2.5, "train/lr": 0.125 });
    w.scalars(1 << 20, { "validation/loss": 0.25 }, 1700000000.125);
    w.close();
    const events = JSON.parse(execFileSync(PYTHON, ["-c", PY_READER, w.path], { encoding: "utf8" })) as Record<string, unknown>[];
    expect(events).toEqual([
      { wallTime: expect.any(Number), step: "41", fileVersion: "brain.Event:2" },
      { wallTime: expect.any(Number), step: "41", sessionLog: { status: "START" } },
      { wallTime: expect.any(Number), step: "41", summary: { value: [{ tag: "train/loss", simpleValue: 2.5 }, { tag: "train/lr", simpleValue: 0.125 }] } },
      { wallTime: 1700000000.125, step: String(1 << 20), summary: { value: [{ tag: "validation/loss", simpleValue: 0.25 }] } },
    ]);
  });

  it("a flipped bit is caught by the reader's CRC check (the test's reader really checks)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tb-"));
    const w = await TensorBoardWriter.open(dir);
    w.scalars(1, { loss: 2 });
    w.close();
    const bytes = new Uint8Array(await readFile(w.path));
    bytes[bytes.length - 6]! ^= 1;
    await writeFile(w.path, bytes);
    await expect(readEvents(w.path)).rejects.toThrow(/bad data CRC/);
  });
});
