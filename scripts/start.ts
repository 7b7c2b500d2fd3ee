// `npm start`: sets up a development home (hotkey //Alice, subnet 42) in ./.subwire/dev
// on first run, then runs a peer on 127.0.0.1:4701 (QUIC and TCP) until Ctrl-C.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { main } from '../packages/peer-node/src/cli.ts'

const home = fileURLToPath(new URL('../.subwire/dev', import.meta.url))
const port = process.env.SUBWIRE_PORT ?? '4701'
if (!existsSync(`${home}/subwire.json`)) {
  const code = await main(['--home', home, 'init', '--hotkey-uri', '//Alice', '--netuid', '42',
    '--listen', `/ip4/127.0.0.1/udp/${port}/quic-v1`, '--listen', `/ip4/127.0.0.1/tcp/${port}`])
  if (code !== 0) process.exit(code)
}
process.stdout.write(`
Try it from another terminal:
  npx subwire --home .subwire/bob init --hotkey-uri //Bob
  npx subwire --home .subwire/bob query <a multiaddr printed below> echo '{"hello":"subwire"}'
  npx subwire --home .subwire/bob message <a multiaddr printed below> hello '"from bob"'
  npx subwire --home .subwire/bob query 5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY echo 1   # by hotkey, once learned

`)
process.exit(await main(['--home', home, 'listen']))
