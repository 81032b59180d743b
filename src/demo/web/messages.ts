import { defineMessages } from "../../core/index.js";

const en = {
  badJson: "the body is not valid JSON",
  notJson: "send the body as JSON (Content-Type: application/json)",
  tooLarge: "the body is larger than {max} bytes",
  invalid: "invalid request: {issues}",
  emptyMessage: "write some text or @mention someone",
  unknownMessage: "there is no message {id} in the demo group",
  notACard: "message {id} is not a card",
  staleButton: "that button is no longer on the card (it has changed since); look at the card again",
  notAForm: "the card {id} has no form to submit",
  unknownField: "the form on card {id} has no field {field}",
  unknownFile: "no such file in the shared folder: {path}",
  foreignHost: "the demo answers only pages opened from this machine (127.0.0.1 / localhost)",
  foreignOrigin: "requests from another site are refused",
  tooManyListeners: "too many open pages follow the group ({max}); close one and reload",
  closing: "the demo is stopping",
  actionFailed: "the bridge did not answer the card action: {reason}",
} as const;

export type DemoWebMessageKey = keyof typeof en;

const zhCN: Record<DemoWebMessageKey, string> = {
  badJson: "请求体不是有效的 JSON",
  notJson: "请以 JSON 发送请求体（Content-Type: application/json）",
  tooLarge: "请求体超过 {max} 字节",
  invalid: "请求无效：{issues}",
  emptyMessage: "请输入文字，或 @ 某人",
  unknownMessage: "演示群里没有消息 {id}",
  notACard: "消息 {id} 不是卡片",
  staleButton: "卡片已经变了，这个按钮已不在上面；请看卡片的最新状态",
  notAForm: "卡片 {id} 上没有可提交的表单",
  unknownField: "卡片 {id} 的表单没有字段 {field}",
  unknownFile: "共享文件夹里没有这个文件：{path}",
  foreignHost: "演示页面只接受从本机打开的页面（127.0.0.1 / localhost）",
  foreignOrigin: "拒绝来自其他网站的请求",
  tooManyListeners: "同时打开的演示页面太多（上限 {max}）；关掉一个再刷新",
  closing: "演示正在停止",
  actionFailed: "桥接机器人没有回应这次卡片操作：{reason}",
};

/** What the demo page's JSON API says when it refuses something (in the page's language). */
export const demoWebMessages = defineMessages("demo-web", en, zhCN);
