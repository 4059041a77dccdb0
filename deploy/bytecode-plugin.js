'use strict';
// Serverless plugin: CPython 3.12 bytecode into the Lambda zip, after serverless-python-requirements has put the
// dependencies in (it is listed after that plugin in serverless.yml, so its hook runs second). Lambda's code
// folder is read-only, so without this every cold start compiles every module it imports; see
// deploy/compile_bytecode.py. Runs on `osls package` and `osls deploy` (and `deploy function`).
// The interpreter: PYTHON312_BIN, else python3.12 on PATH, else the newest pyenv 3.12.
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

function isPython312(bin) {
  try {
    const out = execFileSync(bin, ['-c', 'import sys; print(sys.version_info[:2] == (3, 12))'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out.trim() === 'True';
  } catch (error) {
    return false;
  }
}

function pyenv312() {
  const root = path.join(process.env.PYENV_ROOT || path.join(os.homedir(), '.pyenv'), 'versions');
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .filter((name) => /^3\.12\.\d+$/.test(name))
    .sort((a, b) => Number(b.split('.')[2]) - Number(a.split('.')[2]))
    .map((name) => path.join(root, name, 'bin', 'python3.12'));
}

function python312() {
  const candidates = [process.env.PYTHON312_BIN, 'python3.12', ...pyenv312()].filter(Boolean);
  const found = candidates.find(isPython312);
  if (!found) {
    throw new Error(
      'Lambda runs Python 3.12 and its bytecode must be compiled by a CPython 3.12: install one ' +
        '(e.g. `pyenv install 3.12`) or set PYTHON312_BIN to its python3.12. Tried: ' +
        candidates.join(', ')
    );
  }
  return found;
}

class BytecodePlugin {
  constructor(serverless) {
    this.serverless = serverless;
    const compile = () => this.compile();
    this.hooks = {
      'after:package:createDeploymentArtifacts': compile,
      'after:deploy:function:packageFunction': compile,
    };
  }

  compile() {
    const service = this.serverless.service;
    const artifact =
      service.package.artifact ||
      path.join(this.serverless.serviceDir, '.serverless', `${service.service}.zip`);
    execFileSync(python312(), [path.join(__dirname, 'compile_bytecode.py'), artifact], { stdio: 'inherit' });
  }
}

module.exports = BytecodePlugin;
