/**
 * The long connection's `pbbp2.Frame` codec, rebuilt from the proto (the SDK does not
 * export its own). proto2, parsed once with protobufjs.
 */
import protobuf from "protobufjs";

const PROTO = `
syntax = "proto2";
package pbbp2;
message Header { required string key = 1; required string value = 2; }
message Frame {
  required uint64 SeqID = 1;
  required uint64 LogID = 2;
  required int32 service = 3;
  required int32 method = 4;
  repeated Header headers = 5;
  optional string payload_encoding = 6;
  optional string payload_type = 7;
  optional bytes payload = 8;
  optional string LogIDNew = 9;
}
`;

// The SDK shares this protobufjs and, when it loads, turns 64-bit support off for everyone
// (`util.Long = undefined`): a type built before that then fails on its first frame. Doing the
// same here first makes the order in which the two are loaded not matter; uint64 fields are
// numbers either way (see `Frame`).
protobuf.util.Long = undefined as unknown as typeof protobuf.util.Long;
protobuf.configure();

const FrameType = protobuf.parse(PROTO).root.lookupType("pbbp2.Frame");

/** Frame `method`: control (ping/pong) or data (events, acks). */
export const FRAME_CONTROL = 0;
export const FRAME_DATA = 1;

export interface FrameHeader {
  key: string;
  value: string;
}

export interface Frame {
  SeqID: number;
  LogID: number;
  service: number;
  method: number;
  headers: FrameHeader[];
  payload_encoding?: string;
  payload_type?: string;
  payload?: Uint8Array;
  LogIDNew?: string;
}

export function encodeFrame(frame: Frame): Uint8Array {
  return FrameType.encode(FrameType.fromObject(frame)).finish();
}

/** Decodes a frame; uint64 fields become numbers (no `long` installed, and ids stay small). */
export function decodeFrame(data: Uint8Array): Frame {
  const message = FrameType.decode(data);
  const plain = FrameType.toObject(message, { longs: Number, defaults: true });
  return {
    SeqID: Number(plain.SeqID ?? 0),
    LogID: Number(plain.LogID ?? 0),
    service: Number(plain.service ?? 0),
    method: Number(plain.method ?? 0),
    headers: ((plain.headers ?? []) as FrameHeader[]).map((h) => ({ key: h.key, value: h.value })),
    payload: plain.payload instanceof Uint8Array ? plain.payload : undefined,
    payload_encoding: plain.payload_encoding || undefined,
    payload_type: plain.payload_type || undefined,
    LogIDNew: plain.LogIDNew || undefined,
  };
}

/** Headers as a record (later duplicates win, as in the SDK). */
export function headerMap(frame: Frame): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key, value } of frame.headers) out[key] = value;
  return out;
}
