// Node ws client against our server: text, binary, fragments-free round trips, ping, close.
const WebSocket = require('ws');
const url = process.argv[2];
const deflate = process.argv[3] === 'deflate';
const ws = new WebSocket(url + '/echo', ['chat'], { perMessageDeflate: deflate ? { threshold: 0 } : false });
const expected = ['hello', 'é'.repeat(3000), Buffer.from([0, 1, 2, 255])];
let received = 0;
const fail = (why) => { console.log('FAILED: ' + why); process.exit(1); };
setTimeout(() => fail('timeout'), 20000);
ws.on('open', () => {
  if (ws.protocol !== 'chat') fail('subprotocol ' + ws.protocol);
  if (deflate !== ws.extensions.includes('permessage-deflate')) fail('extensions ' + ws.extensions);
  ws.ping(Buffer.from('node'));
});
ws.on('pong', (data) => {
  if (data.toString() !== 'node') fail('pong payload');
  for (const m of expected) ws.send(m);
});
ws.on('message', (data, isBinary) => {
  const want = expected[received++];
  if (Buffer.isBuffer(want) ? !isBinary || !data.equals(want) : isBinary || data.toString() !== want) fail('echo ' + received);
  if (received === expected.length) ws.close(1000, 'node done');
});
ws.on('close', (code, reason) => {
  if (code !== 1000 || reason.toString() !== 'node done') fail('close ' + code + ' ' + reason);
  console.log('ok');
  process.exit(0);
});
ws.on('error', (e) => fail(String(e)));
