// `npm start`: builds the dashboard, sets up a development home (hotkey //Alice, subnet 42)
// in ./.subwire/dev on first run, then runs a peer on 127.0.0.1 (QUIC and TCP on 4701 for
// servers; WebRTC-Direct and WebSockets on 4702 and WebTransport on UDP 4703 for browsers,
// the peer running under Deno for the latter) and serves the dashboard on
// http://127.0.0.1:4780/ until Ctrl-C. Opening that URL connects to this peer, over
// WebTransport when the browser has it. SUBWIRE_WEBTRANSPORT=0 runs it under Node without.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { build } from 'vite'
import { main } from '../packages/peer-node/src/cli/main.ts'

const home = fileURLToPath(new URL('../.subwire/dev', import.meta.url))
const dashboard = fileURLToPath(new URL('../apps/dashboard', import.meta.url))
const port = Number(process.env.SUBWIRE_PORT ?? '4701')
const listen = [
  `/ip4/127.0.0.1/udp/${port}/quic-v1`,
  `/ip4/127.0.0.1/tcp/${port}`,
  `/ip4/127.0.0.1/udp/${port + 1}/webrtc-direct`,
  `/ip4/127.0.0.1/tcp/${port + 1}/ws`
].flatMap((a) => ['--listen', a])

process.stdout.write('building the dashboard…\n')
await build({ root: dashboard, configFile: `${dashboard}/vite.config.ts`, logLevel: 'warn' })
if (!existsSync(`${home}/subwire.json`)) {
  const code = await main(['--home', home, 'init', '--hotkey-uri', '//Alice', '--netuid', '42', ...listen])
  if (code !== 0) process.exit(code)
}
process.stdout.write(`
Open the dashboard URL printed below in Chromium, use a development key (or your wallet
extension), and connect: the address of this peer is already filled in.

From another terminal:
  npx subwire --home .subwire/bob init --hotkey-uri //Bob
  npx subwire --home .subwire/bob query <a QUIC multiaddr printed below> echo '{"hello":"subwire"}'
  npx subwire --home .subwire/bob send <a QUIC multiaddr printed below> ./some-file

`)
const args = ['--home', home, 'listen', ...listen, '--dashboard', `${dashboard}/dist`, '--dashboard-port', process.env.SUBWIRE_DASHBOARD_PORT ?? '4780']
if (process.env.SUBWIRE_WEBTRANSPORT === '0') process.exit(await main(args))
// the launcher runs `listen --webtransport` under Deno (the project's own, from npm)
const bin = fileURLToPath(new URL('../packages/peer-node/bin/subwire.js', import.meta.url))
const child = spawn(process.execPath, [bin, ...args, `--webtransport=/ip4/127.0.0.1/udp/${port + 2}/quic-v1/webtransport`], { stdio: 'inherit' })
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => { child.kill(sig) })
child.on('exit', (code) => { process.exit(code ?? 1) })
