import { ScalarType, createFileRegistry, fromBinary, type DescEnum, type DescField, type DescMessage, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { descriptorSetBase64 } from '../../../proto/gen/descriptor-set.js';

/**
 * The shape of every message the gateway reads or writes, taken from the
 * descriptors protoc wrote for src/proto (scripts/gen-proto.mjs), in the
 * terms the JSON codec needs: proto and JSON names, the property name the
 * generated TypeScript uses, and the Go type a value lands in on etcd's side
 * (encoding/json names it in its errors).
 */

export type Scalar = 'int64' | 'uint64' | 'int32' | 'uint32' | 'bool' | 'string' | 'bytes' | 'double' | 'float';

export interface EnumSchema {
  /** Go's registered enum name ("etcdserverpb.RangeRequest_SortOrder"): jsonpb names it in its errors. */
  goName: string;
  byName: ReadonlyMap<string, number>;
  byNumber: ReadonlyMap<number, string>;
}

export interface FieldSchema {
  /** The .proto name: what the gateway writes (grpc-gateway's OrigName) and reads. */
  name: string;
  /** protoc's lowerCamelCase name, which jsonpb also reads. */
  jsonName: string;
  /** The property of the generated TypeScript object. */
  property: string;
  kind: 'scalar' | 'enum' | 'message';
  scalar?: Scalar;
  enum?: EnumSchema;
  message?: () => MessageSchema;
  repeated: boolean;
  /** Set for a member of a oneof. */
  oneof?: OneofSchema;
}

export interface OneofSchema {
  /**
   * The oneof's own name ("target_union"): jsonpb also reads a JSON member of
   * that name, into the Go interface that holds the oneof, whose type
   * ("etcdserverpb.isCompare_TargetUnion") its error names.
   */
  name: string;
  goType: string;
  members: FieldSchema[];
}

export interface MessageSchema {
  typeName: string;
  /** Fields and oneofs in .proto order, which is the order of etcd's Go structs. */
  members: Array<FieldSchema | OneofSchema>;
  fields: FieldSchema[];
  oneofs: OneofSchema[];
}

let registry: FileRegistry | undefined;
const messages = new Map<string, MessageSchema>();
const enums = new Map<string, EnumSchema>();

function files(): FileRegistry {
  registry ??= createFileRegistry(fromBinary(FileDescriptorSetSchema, Buffer.from(descriptorSetBase64, 'base64')));
  return registry;
}

/** The schema of a message by its full name ("etcdserverpb.RangeRequest"). */
export function messageSchema(typeName: string): MessageSchema {
  const cached = messages.get(typeName);
  if (cached !== undefined) return cached;
  const desc = files().getMessage(typeName);
  if (desc === undefined) throw new Error(`no descriptor for message ${typeName}`);
  return buildMessage(desc);
}

function buildMessage(desc: DescMessage): MessageSchema {
  const schema: MessageSchema = { typeName: desc.typeName, members: [], fields: [], oneofs: [] };
  messages.set(desc.typeName, schema);
  for (const member of desc.members) {
    if (member.kind === 'oneof') {
      const oneof: OneofSchema = { name: member.name, goType: `${goPackage(desc)}.is${goLocalName(desc)}_${goCamelCase(member.name)}`, members: [] };
      schema.members.push(oneof);
      schema.oneofs.push(oneof);
      for (const f of member.fields) {
        const field = buildField(f, oneof);
        oneof.members.push(field);
        schema.fields.push(field);
      }
    } else {
      const field = buildField(member);
      schema.members.push(field);
      schema.fields.push(field);
    }
  }
  return schema;
}

function buildField(f: DescField, oneof?: OneofSchema): FieldSchema {
  const base = { name: f.name, jsonName: f.jsonName, property: tsProperty(f.name), oneof };
  switch (f.fieldKind) {
    case 'scalar':
      return { ...base, kind: 'scalar', scalar: scalarOf(f.scalar), repeated: false };
    case 'enum':
      return { ...base, kind: 'enum', enum: enumSchema(f.enum), repeated: false };
    case 'message': {
      const typeName = f.message.typeName;
      return { ...base, kind: 'message', message: () => messageSchema(typeName), repeated: false };
    }
    case 'list':
      if (f.listKind === 'scalar') return { ...base, kind: 'scalar', scalar: scalarOf(f.scalar), repeated: true };
      if (f.listKind === 'enum') return { ...base, kind: 'enum', enum: enumSchema(f.enum), repeated: true };
      {
        const typeName = f.message.typeName;
        return { ...base, kind: 'message', message: () => messageSchema(typeName), repeated: true };
      }
    case 'map':
      // No etcd API message has a map; a new one would need jsonpb's map rules here first.
      throw new Error(`map field ${f.name} is not supported by the gateway codec`);
  }
}

function enumSchema(desc: DescEnum): EnumSchema {
  const cached = enums.get(desc.typeName);
  if (cached !== undefined) return cached;
  const local = desc.typeName.slice(desc.file.proto.package.length + 1).replaceAll('.', '_');
  const schema: EnumSchema = {
    goName: `${goPackageOf(desc.file.proto.package)}.${local}`,
    byName: new Map(desc.values.map((v) => [v.name, v.number])),
    byNumber: new Map(desc.values.map((v) => [v.number, v.name])),
  };
  enums.set(desc.typeName, schema);
  return schema;
}

function scalarOf(t: ScalarType): Scalar {
  switch (t) {
    case ScalarType.INT64: case ScalarType.SINT64: case ScalarType.SFIXED64: return 'int64';
    case ScalarType.UINT64: case ScalarType.FIXED64: return 'uint64';
    case ScalarType.INT32: case ScalarType.SINT32: case ScalarType.SFIXED32: return 'int32';
    case ScalarType.UINT32: case ScalarType.FIXED32: return 'uint32';
    case ScalarType.BOOL: return 'bool';
    case ScalarType.STRING: return 'string';
    case ScalarType.BYTES: return 'bytes';
    case ScalarType.DOUBLE: return 'double';
    case ScalarType.FLOAT: return 'float';
  }
}

/** ts-proto's property names: snake_case becomes camelCase, anything else stays as written ("ID", "peerURLs"). */
function tsProperty(name: string): string {
  if (!name.includes('_')) return name;
  const keepCase = /[a-z]/.test(name);
  return name.split('_').map((w, i) => {
    const word = keepCase ? w : w.toLowerCase();
    return i === 0 ? word : word.charAt(0).toUpperCase() + word.slice(1);
  }).join('');
}

/** protoc-gen-go's CamelCase: "target_union" becomes "TargetUnion". */
function goCamelCase(name: string): string {
  return name.split('_').filter((p) => p !== '').map((p) => p[0]!.toUpperCase() + p.slice(1)).join('');
}

function goLocalName(desc: DescMessage): string {
  return desc.typeName.slice(desc.file.proto.package.length + 1).replaceAll('.', '_');
}

function goPackage(desc: DescMessage): string {
  return goPackageOf(desc.file.proto.package);
}

/** etcd's Go package names are its proto package names (etcdserverpb, mvccpb, authpb, v3lockpb, v3electionpb). */
function goPackageOf(protoPackage: string): string {
  return protoPackage.replaceAll('.', '_');
}

export interface MethodSchema {
  /** The gRPC path ("/etcdserverpb.KV/Range"). */
  path: string;
  input: MessageSchema;
  output: MessageSchema;
  requestStream: boolean;
  responseStream: boolean;
}

/** A method by service and name ("etcdserverpb.KV", "Range"). */
export function methodSchema(service: string, method: string): MethodSchema {
  const desc = files().getService(service)?.methods.find((m) => m.name === method);
  if (desc === undefined) throw new Error(`no descriptor for method ${service}.${method}`);
  return {
    path: `/${service}/${method}`,
    input: messageSchema(desc.input.typeName),
    output: messageSchema(desc.output.typeName),
    requestStream: desc.methodKind === 'client_streaming' || desc.methodKind === 'bidi_streaming',
    responseStream: desc.methodKind === 'server_streaming' || desc.methodKind === 'bidi_streaming',
  };
}
