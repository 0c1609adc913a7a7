import { create, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Pod, startPod } from "../adapter/node/start-pod.ts";
import { greetRoutes } from "../demo/greet-service.ts";
import { file_greet_v1_greet } from "../gen/greet/v1/greet_pb.ts";
import {
  ServerReflection,
  type ServerReflectionResponse,
  ServerReflectionRequestSchema,
} from "../gen/grpc/reflection/v1/reflection_pb.ts";
import * as v1alpha from "../gen/grpc/reflection/v1alpha/reflection_pb.ts";
import { reflectionRoutes } from "./reflection-routes.ts";

describe("reflectionRoutes", () => {
  let both: Pod;
  let alphaOnly: Pod;

  beforeAll(async () => {
    both = await startPod("both", (router) => {
      greetRoutes("both")(router);
      reflectionRoutes([file_greet_v1_greet])(router);
    });
    alphaOnly = await startPod("alpha", (router) => {
      greetRoutes("alpha")(router);
      reflectionRoutes([file_greet_v1_greet], { versions: ["v1alpha"] })(router);
    });
  });

  afterAll(async () => {
    await Promise.all([both.close(), alphaOnly.close()]);
  });

  const baseUrl = (pod: Pod) => `http://${pod.address.host}:${pod.address.port}`;

  it("serves v1 over gRPC: list_services and files on one stream", async () => {
    const client = createClient(ServerReflection, createGrpcTransport({ baseUrl: baseUrl(both) }));
    async function* requests() {
      yield create(ServerReflectionRequestSchema, { messageRequest: { case: "listServices", value: "*" } });
      yield create(ServerReflectionRequestSchema, {
        messageRequest: { case: "fileContainingSymbol", value: "greet.v1.GreetService.Greet" },
      });
      yield create(ServerReflectionRequestSchema, { messageRequest: { case: "fileByFilename", value: "nope.proto" } });
    }
    const answers: ServerReflectionResponse[] = [];
    for await (const answer of client.serverReflectionInfo(requests())) {
      answers.push(answer);
    }
    expect(answers.map((a) => a.messageResponse.case)).toEqual([
      "listServicesResponse",
      "fileDescriptorResponse",
      "errorResponse",
    ]);
    const [listed, file, missing] = answers;
    expect(listed?.messageResponse.value).toEqual(
      expect.objectContaining({ service: [expect.objectContaining({ name: "greet.v1.GreetService" })] }),
    );
    if (file?.messageResponse.case !== "fileDescriptorResponse") {
      throw new Error("expected a file");
    }
    const protos = file.messageResponse.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
    expect(protos.map((p) => p.name)).toEqual(["greet/v1/greet.proto"]);
    expect(protos[0]?.service[0]?.method.map((m) => m.name)).toEqual(["Greet", "GreetStream", "GreetMany", "Chat"]);
    expect(missing?.messageResponse.value).toEqual(expect.objectContaining({ errorCode: 5 }));
  });

  it("serves v1alpha", async () => {
    for (const pod of [both, alphaOnly]) {
      const client = createClient(v1alpha.ServerReflection, createGrpcTransport({ baseUrl: baseUrl(pod) }));
      async function* requests() {
        yield create(v1alpha.ServerReflectionRequestSchema, { messageRequest: { case: "listServices", value: "" } });
      }
      const answers: v1alpha.ServerReflectionResponse[] = [];
      for await (const answer of client.serverReflectionInfo(requests())) {
        answers.push(answer);
      }
      expect(answers[0]?.messageResponse).toEqual({
        case: "listServicesResponse",
        value: expect.objectContaining({ service: [expect.objectContaining({ name: "greet.v1.GreetService" })] }),
      });
    }
  });

  it("registers only the versions asked for", async () => {
    const client = createClient(ServerReflection, createGrpcTransport({ baseUrl: baseUrl(alphaOnly) }));
    async function* requests() {
      yield create(ServerReflectionRequestSchema, { messageRequest: { case: "listServices", value: "" } });
    }
    const call = async () => {
      for await (const _ of client.serverReflectionInfo(requests())) {
        // no answers expected
      }
    };
    await expect(call()).rejects.toSatisfy((e) => ConnectError.from(e).code === Code.Unimplemented);
  });
});
