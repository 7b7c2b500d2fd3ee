const r = () => `${process.memoryUsage().rss >> 20} MiB (heap ${process.memoryUsage().heapTotal >> 20})`
console.log('base', r())
await import('@polkadot/util'); console.log('polkadot util', r())
await import('../shared/src/index.ts'); console.log('shared', r())
await import('libp2p'); await import('@chainsafe/libp2p-quic'); await import('@libp2p/tcp'); await import('@libp2p/noise'); console.log('libp2p', r())
const { createNodePeer, loadHotkey } = await import('./src/index.ts'); console.log('peer-node', r())
const p = await createNodePeer({ signer: await loadHotkey({ uri: '//Alice' }), netuids: [42], listen: [] }); console.log('created', r())
await p.start(); console.log('started', r())
