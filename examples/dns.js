// DNS over UDP (the seed's DNS example): run with --target-protocol udp and
// --target-port 53 against a DNS server that answers A queries for the name.

// Name to resolve
const name = 'stressgrid.com';

// Encode QNAME: each label as its length and its bytes
const qname = [];
for (const label of name.split('.')) {
  const bytes = text.encode(label);
  qname.push(bytes.length, ...bytes); // LENGTH, DATA
}

// Encode question
const question = [
  ...qname, // QNAME
  0x00, // Terminate QNAME
  0x00, 0x01, // QTYPE
  0x00, 0x01, // QCLASS
];

const u16 = (bytes, at) => (bytes[at] << 8) | bytes[at + 1];

/** An error counted as `<code>_error_count` when it ends the device. */
const failure = (code, message) => Object.assign(new Error(message), { code });

// Use all of 16-bit ID space
for (let id = 0; id <= 0xffff; id++) {
  // Encode request
  const request = new Uint8Array([
    id >> 8, id & 0xff, // ID
    0x01, 0x00, // Flags
    0x00, 0x01, // Number of questions
    0x00, 0x00, // Number of answers
    0x00, 0x00, // Number of authority records
    0x00, 0x00, // Number of additional records
    ...question, // Question
  ]);

  // Measure resolve latency
  startTiming('resolve');

  // Send UDP datagram
  await send(request);

  // Receive UDP datagram
  const response = await recv();

  stopTiming('resolve');

  // Decode response: ID, flags, one question, the number of answers; skip the authority and additional counts and the question
  if (u16(response, 0) !== id || u16(response, 2) !== 0x8180 || u16(response, 4) !== 1) {
    throw new Error(`unexpected response header ${hex.encode(response.subarray(0, 12))}`);
  }
  const answersNum = u16(response, 6);
  // No answer fails, as the original's 0..(answers_num - 1) then matched an answer that is not there
  if (answersNum === 0) throw failure('no_answer', `no answer for ${name}`);
  let answer = 12 + question.length;

  // Decode answers
  for (let i = 0; i < answersNum; i++) {
    if (
      u16(response, answer) !== 0xc00c || // NAME
      u16(response, answer + 2) !== 0x0001 || // TYPE
      u16(response, answer + 4) !== 0x0001 || // CLASS
      // TTL: 4 bytes, any value
      u16(response, answer + 10) !== 4 // RDLENGTH
    ) {
      throw new Error(`unexpected answer ${hex.encode(response.subarray(answer, answer + 16))}`);
    }
    const data = response.subarray(answer + 12, answer + 16); // RDDATA
    const ipv4Address = data.join('.');
    if (data.length !== 4) throw new Error(`answer cut short at ${ipv4Address}`);
    answer += 16;
  }

  // Delay for 1 second +/-5%
  await delay(1000, 0.05);
}
