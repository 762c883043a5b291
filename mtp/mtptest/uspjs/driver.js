#!/usr/bin/env node
// driver.js: drives one USP Agent with usp-js 0.5.1 (a third-party USP
// Controller) over MQTT, for brickyard's interop tests.
//
//   node driver.js '<plan JSON>'   |   node driver.js plan.json   |   node driver.js < plan.json
//
// The plan (every field but steps has a default):
//
//   {
//     "host": "127.0.0.1", "port": 1883, "protocol": "mqtt",
//     "protocolVersion": 4,            // MQTT 3.1.1 (usp-js's default); 5 is accepted too
//     "toId": "os::00256D-SIM000001",  // the agent's Endpoint ID
//     "fromId": "proto::uspjs",        // ours (the controller's)
//     "publishEndpoint": "usp/agent/…",        // the agent's topic: requests go there
//     "subscribeEndpoint": "usp/controller/…", // ours: the agent answers there
//     "connectTimeoutMs": 5000,
//     "stepTimeoutMs": 10000,          // default timeout of every step
//     "totalTimeoutMs": 60000,         // the whole run, disconnect included
//     "steps": [ { "op": …, "name": …, "timeoutMs": …, …arguments }, … ]
//   }
//
// Steps ("name" defaults to "<index>-<op>"):
//
//   get          paths (string | [string]), options (usp-js get options, e.g. {"raw": true})
//   set          path, value (as usp.set takes them; set always sends allow_partial=true)
//   add          path, value
//   del          paths | pathsFrom (the name of an earlier add step: deletes what it created), allowPartial
//   instances    paths, opts ({"firstLevelOnly": bool})
//   supportedDM  paths, opts ({"firstLevelOnly", "returnCommands", "returnEvents", "returnParams"})
//   operate      path ("…Download()"), input ({"URL": …}), async (default true),
//                commandKey, id (usp-js's subscription ID is "NOTIFY@<id>"; default
//                "<name>-<time>"),
//                wait (async: wait for the OperationComplete; default true),
//                cleanup (async: delete usp-js's OperationComplete subscription
//                after completion; default true).
//                Result, async: {"operateResp": the OperateResp, "complete":
//                what usp-js resolved with (the output arguments), "notify":
//                the OperationComplete Notify}; sync: what usp-js resolved with
//   subscribe    id, notif ("ValueChange", "Event", …), reference, retry (NotifRetry;
//                default true: usp-js then answers each Notify), persist (default
//                false). Result {"subscriptionId": "NOTIFY@<id>"}
//   unsubscribe  subscription (the id of an earlier subscribe step): deletes its row
//   waitForOnBoard  waits for "count" (default 1) more OnBoardRequest Notifies
//                (usp-js answers each with its NotifyResp unless the plan says
//                "answerOnBoard": false), result [{"notify": the Notify, "msgId",
//                "from"}]; they count from the connection, so one that came
//                before the step is not missed
//   waitFor      subscription (a subscribe step's id): waits for "count" (default 1)
//                more Notify messages, result [{"msg": what usp-js made of it,
//                "notify": the Notify, "msgId"}]; or operation (an operate step's
//                name, with wait=false): waits for its OperationComplete, result
//                as operate's
//
// Output: one JSON object per step on stdout, in order:
//
//   {"step": name, "op": op, "ok": true|false, "result": …, "error": …, "ms": …,
//    "filtered": [records the driver kept from usp-js during the step]}
//
// "result" is what usp-js returned; "error" what it rejected with (for a USP
// error: the error object usp-js made of the response, e.g.
// {"errCode": 7026, "errMsg": "…"}). Everything else usp-js or this script
// logs goes to stderr.
//
// Exit status: 0 when every step ran, whatever USP errors the agent answered
// (the caller judges); 1 a bad plan (also a bad step: the run stops there);
// 2 the connection could not be made; 3 a step timed out; 4 the MQTT
// connection was lost; 5 the total timeout; 6 an exception inside usp-js or
// this script. After a step fails with 1, 3 or 4 no further step runs. Once
// connected, the script disconnects before it exits (bounded to 3 s), except
// on 5 and 6, where it exits at once and the broker drops the connection.
//
// Quirks of usp-js 0.5.1 worked around here (see README.md):
//
//  1. A DisconnectRecord from the agent (R-MTP.7: an agent SHOULD send one
//     before it drops the MTP) makes usp-js throw inside its MQTT "message"
//     handler: an uncaught exception that ends the process (or, caught,
//     leaves mqtt.js delivering nothing more). The connection
//     wrapper below drops such records before usp-js sees them and reports
//     them in the step's "filtered".
//  2. MTP Connect Records (mqtt_connect, …) carry no Msg: usp-js logs an
//     "illegal buffer" error for each (with console.log, i.e. on stdout).
//     The wrapper drops them too; console.log is redirected to stderr.
//  3. usp-js does not check a Record's to_id: the wrapper drops Records
//     addressed to another endpoint, and Records that do not decode.
//  4. An async operate whose OperateResp carries a cmd_failure is never
//     settled by usp-js (it waits for the OperationComplete under another
//     route); the step listens to the OperateResp itself (usp.on, which,
//     unlike command.subscribe, hands over the whole Msg) and fails at once.
//  5. usp-js never times out on its own: every step is raced against a timer.
//  7. usp-js cannot route an OnBoardRequest (its subscription_id is empty
//     and an agent's msg_id has no "@"): it reports "Could not locate id".
//     The wrapper takes them before usp-js sees them and hands them to the
//     waitForOnBoard steps; usp-js's own _notifyResp answers them.
//  6. usp-js's async operate Adds its own OperationComplete subscription and
//     Deletes it afterwards; for a command that reboots the device that
//     Delete races with the reboot: such a step wants "cleanup": false.
"use strict";

const fs = require("fs");
const util = require("util");

// Quirk 2: keep stdout for our JSON lines only.
for (const k of ["log", "info", "warn", "debug", "trace"]) {
  console[k] = (...args) => process.stderr.write(util.format(...args) + "\n");
}

const EXIT = { OK: 0, PLAN: 1, CONNECT: 2, TIMEOUT: 3, LOST: 4, TOTAL: 5, INTERNAL: 6 };

class Timeout extends Error {}
class Lost extends Error {}
class PlanError extends Error {} // a step the plan got wrong: not a USP answer

function readPlan() {
  const arg = process.argv[2];
  let text;
  if (arg === undefined || arg === "-") text = fs.readFileSync(0, "utf8");
  else if (arg.trimStart().startsWith("{")) text = arg;
  else text = fs.readFileSync(arg, "utf8");
  const plan = JSON.parse(text);
  if (!plan || !Array.isArray(plan.steps)) throw new Error("plan: steps must be an array");
  for (const k of ["toId", "publishEndpoint", "subscribeEndpoint"]) {
    if (typeof plan[k] !== "string" || plan[k] === "") throw new Error(`plan: ${k} is required`);
  }
  return plan;
}

// serialise makes a rejection reason JSON-friendly.
function serialise(v) {
  if (v instanceof Error) return { message: v.message, name: v.name };
  if (v === undefined) return null;
  if (typeof v === "string") return { message: v };
  return v;
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

// withTimeout races p against ms (and against the connection's loss).
function withTimeout(p, ms, what, lost) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Timeout(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t, lost]).finally(() => clearTimeout(timer));
}

// The connection wrapper (quirks 1–3): usp-js's MQTT client, with its
// "message" events filtered.
function makeConnect(fromId, filtered, onBoard) {
  const { EventEmitter } = require("events");
  const usp = require("usp-js");
  const mqttConf = require("usp-js/node/configurations/mqtt");
  const commands = require("usp-js/node/commands");
  const debug = Boolean(process.env.USPJS_DEBUG);
  let Record = null;
  let Msg = null;
  const recordType = async () => {
    if (!Record) {
      const proto = await mqttConf.loadProtobuf("1.4");
      Record = proto.rootRecord.lookupType("usp_record.Record");
      Msg = proto.rootMsg.lookupType("usp.Msg");
    }
    return Record;
  };
  const connectClient = async (opts) => {
    const R = await recordType();
    const client = await mqttConf.connectClient(opts);
    const messages = new EventEmitter();
    messages.setMaxListeners(0);
    if (debug) {
      const publish = client.publish.bind(client);
      client.publish = (topic, data, ...rest) => {
        console.error(`driver: publishing ${data.length} bytes to ${topic}`);
        return publish(topic, data, ...rest);
      };
    }
    client.on("message", (topic, data) => {
      let rec;
      try {
        rec = R.decode(data);
      } catch (e) {
        filtered.push({ kind: "undecodable", topic, error: String(e && e.message) });
        return;
      }
      const info = { topic, from: rec.fromId, to: rec.toId };
      for (const kind of ["disconnect", "mqttConnect", "websocketConnect", "stompConnect", "udsConnect"]) {
        if (rec[kind] != null) {
          filtered.push({ kind, ...info, ...(kind === "disconnect" ? R.toObject(rec, { longs: String }).disconnect : {}) });
          return;
        }
      }
      if (debug) {
        let msg = "";
        try {
          const payload = rec.noSessionContext ? rec.noSessionContext.payload : rec.sessionContext && rec.sessionContext.payload[0];
          msg = JSON.stringify(Msg.toObject(Msg.decode(payload), { longs: String, enums: String, bytes: String }));
        } catch (e) {
          msg = `(${e.message})`;
        }
        console.error(`driver: received on ${topic} from ${rec.fromId} to ${rec.toId}: ${msg}`);
      }
      if (rec.toId !== fromId) {
        filtered.push({ kind: "foreign", ...info });
        return;
      }
      // Quirk 7: OnBoardRequests go to the plan, not to usp-js.
      try {
        const payload = rec.noSessionContext ? rec.noSessionContext.payload : null;
        if (payload) {
          const m = Msg.toObject(Msg.decode(payload), { longs: String, enums: String, bytes: String });
          const n = m.body && m.body.request && m.body.request.notify;
          if (n && n.onBoardReq) {
            onBoard({ notify: n, msgId: m.header.msgId, from: rec.fromId });
            return;
          }
        }
      } catch (e) {
        // not ours to judge: usp-js gets it
      }
      messages.emit("message", topic, data);
    });
    return new Proxy(client, {
      get(target, prop) {
        if (prop === "on") {
          return (ev, fn) => (ev === "message" ? messages.on(ev, fn) : target.on(ev, fn));
        }
        const v = target[prop];
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
  };
  return usp.build({ connectClient, decodeID: commands.decodeId, loadProtobuf: mqttConf.loadProtobuf });
}

async function main(plan) {
  const stepTimeout = plan.stepTimeoutMs || 10000;
  const connectTimeout = plan.connectTimeoutMs || 5000;
  const filtered = []; // records kept from usp-js, reported with the step they arrived in

  let lostReject;
  const lost = new Promise((_, reject) => (lostReject = reject));
  lost.catch(() => {});
  let ending = false;
  const events = {
    onError: (err) => console.error(`usp-js error: ${typeof err === "string" ? err : util.inspect(err)}`),
    onOffline: () => ending || lostReject(new Lost("MQTT connection went offline")),
    onClose: () => ending || lostReject(new Lost("MQTT connection closed")),
  };

  // OnBoardRequests (quirk 7), answered through usp-js once it is connected.
  const onboards = { notes: [], seen: 0, wake: null, unanswered: [] };
  let usp;
  const answer = (n) => {
    if (plan.answerOnBoard === false) return;
    // usp-js waits for an answer to its NotifyResp that never comes: do not await.
    usp._notifyResp("", n.msgId).catch(() => {});
  };
  const onBoard = (n) => {
    onboards.notes.push(n);
    if (usp) answer(n);
    else onboards.unanswered.push(n);
    if (onboards.wake) onboards.wake();
  };
  const connect = makeConnect(plan.fromId || "proto::interop-usp-controller", filtered, onBoard);
  try {
    usp = await withTimeout(
      connect(
        {
          host: plan.host || "127.0.0.1",
          port: plan.port || 1883,
          protocol: plan.protocol || "mqtt",
          protocolVersion: plan.protocolVersion || 4,
          toId: plan.toId,
          fromId: plan.fromId,
          publishEndpoint: plan.publishEndpoint,
          subscribeEndpoint: plan.subscribeEndpoint,
          connectTimeout,
          closeOnDisconnect: true, // no reconnects: a lost connection is a failure
        },
        events,
      ),
      connectTimeout + 1000,
      "connect",
      lost,
    );
  } catch (e) {
    console.error(`driver: connect to ${plan.host || "127.0.0.1"}:${plan.port || 1883}: ${e && e.message ? e.message : util.inspect(e)}`);
    return EXIT.CONNECT;
  }

  for (const n of onboards.unanswered.splice(0)) answer(n);
  const subs = {}; // subscribe id → {sid, clear, notes: [], seen}
  const ops = {}; // operate step name (wait=false) → Promise of its result
  const results = {}; // step name → result

  const runStep = async (s) => {
    switch (s.op) {
      case "get":
        return usp.get(s.paths, s.options);
      case "set":
        return usp.set(s.path, s.value);
      case "add":
        return usp.add(s.path, s.value);
      case "del": {
        let paths = s.paths;
        if (s.pathsFrom !== undefined) {
          if (!(s.pathsFrom in results)) throw new PlanError(`del: no step named ${s.pathsFrom} ran`);
          paths = results[s.pathsFrom];
        }
        return usp.del(paths, s.allowPartial);
      }
      case "instances":
        return usp.instances(s.paths, s.opts);
      case "supportedDM":
        return usp.supportedDM(s.paths, s.opts);
      case "subscribe": {
        if (!s.id) throw new PlanError("subscribe: id is required");
        const sub = { notes: [], seen: 0, wake: null };
        sub.clear = await usp.subscribe(
          { id: s.id, notif: s.notif, reference: s.reference, retry: s.retry ?? true, persist: s.persist ?? false },
          (msg, full) => {
            sub.notes.push({ msg, notify: full && full.body && full.body.request && full.body.request.notify, msgId: full && full.header && full.header.msgId });
            if (sub.wake) sub.wake();
          },
        );
        sub.sid = "NOTIFY@" + s.id;
        subs[s.id] = sub;
        return { subscriptionId: sub.sid };
      }
      case "unsubscribe": {
        const sub = subs[s.subscription];
        if (!sub) throw new PlanError(`unsubscribe: no subscription ${s.subscription}`);
        delete subs[s.subscription];
        return sub.clear();
      }
      case "operate":
        return operate(s);
      case "waitForOnBoard": {
        const want = onboards.seen + (s.count || 1);
        while (onboards.notes.length < want) await new Promise((res) => (onboards.wake = res));
        onboards.wake = null;
        const got = onboards.notes.slice(onboards.seen, want);
        onboards.seen = want;
        return got;
      }
      case "waitFor": {
        if (s.subscription !== undefined) {
          const sub = subs[s.subscription];
          if (!sub) throw new PlanError(`waitFor: no subscription ${s.subscription}`);
          const want = sub.seen + (s.count || 1);
          while (sub.notes.length < want) await new Promise((res) => (sub.wake = res));
          sub.wake = null;
          const got = sub.notes.slice(sub.seen, want);
          sub.seen = want;
          return got;
        }
        if (s.operation !== undefined) {
          const op = ops[s.operation];
          if (!op) throw new PlanError(`waitFor: no pending operation ${s.operation}`);
          delete ops[s.operation];
          return op;
        }
        throw new PlanError("waitFor: subscription or operation is required");
      }
      default:
        throw new PlanError(`unknown op ${JSON.stringify(s.op)}`);
    }
  };

  // operate runs one command; an async one through usp-js's operate recipe
  // (which adds its own OperationComplete subscription first).
  const operate = async (s) => {
    const isAsync = s.async ?? true;
    // The ID names usp-js's OperationComplete subscription ("NOTIFY@<ID>"),
    // which is also the Operate's msg_id.
    const id = s.id || `${s.name}-${Date.now().toString(36)}`;
    const [command, cleanup] = await usp.operate(s.path, { isAsync, commandKey: s.commandKey || "", ID: id });
    if (!isAsync) return command(s.input || {});
    // Quirk 4: hear the OperateResp too (usp-js routes it nowhere). usp.on,
    // unlike command.subscribe, hands over the whole message.
    let respond, fail, notify;
    const resp = new Promise((res, rej) => ((respond = res), (fail = rej)));
    const off = usp.on("NOTIFY@" + id, (msg, full) => {
      if (full && full.header && full.header.msgType === "NOTIFY") notify = full.body.request.notify;
      if (!full || !full.header || full.header.msgType !== "OPERATE_RESP") return;
      const or = full.body.response.operateResp;
      const failure = (or.operationResults || []).find((r) => r.cmdFailure);
      if (failure) fail(failure.cmdFailure);
      else respond(or);
    });
    const complete = command(s.input || {});
    const done = Promise.race([complete, resp.then(() => complete)]).finally(async () => {
      off();
      if (s.cleanup ?? true) {
        try {
          await withTimeout(cleanup(), stepTimeout, "operate cleanup", lost);
        } catch (e) {
          console.error(`driver: ${s.name}: cleanup: ${e && e.message ? e.message : util.inspect(e)}`);
        }
      }
    });
    done.catch(() => {}); // judged where it is awaited
    // An Error message (7026, 7016…) answers the Operate instead: usp-js
    // rejects the command itself (it routes an Error by its msg_id's prefix).
    let operateResp;
    try {
      operateResp = await Promise.race([resp, done.then(() => undefined)]);
    } catch (e) {
      await done.catch(() => {}); // the cleanup ran
      throw e;
    }
    // The whole OperationComplete Notify beside what usp-js made of it.
    const completed = done.then((complete) => ({ operateResp, complete, notify }));
    completed.catch(() => {});
    if (s.wait ?? true) return completed;
    ops[s.name] = completed;
    return { operateResp };
  };

  let code = EXIT.OK;
  for (const [i, s] of plan.steps.entries()) {
    s.name = s.name || `${i + 1}-${s.op}`;
    const ms = s.timeoutMs || stepTimeout;
    const t0 = process.hrtime.bigint();
    const out = { step: s.name, op: s.op };
    try {
      const r = await withTimeout(Promise.resolve().then(() => runStep(s)), ms, `step ${s.name} (${s.op})`, lost);
      results[s.name] = r;
      Object.assign(out, { ok: true, result: r === undefined ? null : r });
    } catch (e) {
      Object.assign(out, { ok: false, error: serialise(e) });
      if (e instanceof Timeout) code = EXIT.TIMEOUT;
      if (e instanceof Lost) code = EXIT.LOST;
      if (e instanceof PlanError) code = EXIT.PLAN;
    }
    out.ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (filtered.length) out.filtered = filtered.splice(0);
    emit(out);
    if (code !== EXIT.OK) {
      console.error(`driver: ${out.error.message}; stopping`);
      break;
    }
  }

  ending = true;
  try {
    await withTimeout(Promise.resolve(usp.disconnect()), 3000, "disconnect", new Promise(() => {}));
  } catch (e) {
    console.error(`driver: disconnect: ${e && e.message ? e.message : util.inspect(e)}`);
  }
  return code;
}

function exit(code) {
  process.stdout.write("", () => process.exit(code));
}

let plan;
try {
  plan = readPlan();
} catch (e) {
  console.error(`driver: ${e.message}`);
  process.exit(EXIT.PLAN);
}
// usp-js throws from its own callbacks (a session init timer, a
// DisconnectRecord in the message handler): never a silent hang or crash.
process.on("uncaughtException", (e) => {
  console.error(`driver: uncaught: ${e && e.stack ? e.stack : util.inspect(e)}`);
  exit(EXIT.INTERNAL);
});
process.on("unhandledRejection", (e) => {
  console.error(`driver: unhandled rejection: ${e && e.stack ? e.stack : util.inspect(e)}`);
  exit(EXIT.INTERNAL);
});
// The total watchdog: nothing keeps the script alive past it.
const total = plan.totalTimeoutMs || 60000;
const watchdog = setTimeout(() => {
  console.error(`driver: total timeout (${total} ms) reached`);
  exit(EXIT.TOTAL);
}, total);
main(plan).then(
  (code) => {
    clearTimeout(watchdog);
    exit(code);
  },
  (e) => {
    console.error(`driver: ${e && e.stack ? e.stack : util.inspect(e)}`);
    exit(EXIT.INTERNAL);
  },
);
