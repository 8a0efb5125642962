import { describe, expect, it } from 'vitest';
import { entryOf, normalizeOutput, parseReadmeExamples } from '../readme-examples.js';

const fence = '```';
const readme = [
  '# pkg',
  '<!-- readme-example: hello -->',
  '',
  `${fence}js`,
  "console.log('hi');",
  fence,
  'prints',
  '<!-- readme-output: hello -->',
  `${fence}text`,
  'hi   ',
  '',
  fence,
  '<!-- readme-example: w/main.cjs -->',
  `${fence}js`,
  "require('./reader.cjs');",
  fence,
  '<!-- readme-example: w/reader.cjs -->',
  `${fence}js`,
  "console.log('r');",
  fence,
  '<!-- readme-output: w -->',
  `${fence}text`,
  'r',
  fence,
  '<!-- readme-fragment -->',
  `${fence}ts`,
  'lookup(key: number): number;',
  fence,
  `${fence}sh`,
  'npm install @kern/core',
  fence,
].join('\n');

describe('README example markers', () => {
  it('collects each example with its files and output', () => {
    const { examples, problems } = parseReadmeExamples(readme, 'README.md');
    expect(problems).toEqual([]);
    expect(examples.map((e) => [e.name, [...e.files.keys()], e.stdout, entryOf(e)])).toEqual([
      ['hello', ['main.mjs'], 'hi   \n', 'main.mjs'],
      ['w', ['main.cjs', 'reader.cjs'], 'r', 'main.cjs'],
    ]);
    expect(normalizeOutput(examples[0]!.stdout!)).toBe('hi');
  });

  it('an output block that drifts from what runs no longer compares equal', () => {
    const drifted = readme.replace("'hi   ',", "'ho',").replace('\nhi   \n', '\nho\n');
    const [ex] = parseReadmeExamples(drifted, 'README.md').examples;
    expect(normalizeOutput(ex!.stdout!)).not.toBe(normalizeOutput('hi\n'));
  });

  it('reports unmarked code, a marker without a block, and an example without output', () => {
    const bad = [
      `${fence}js`,
      'x()',
      fence,
      '<!-- readme-example: lone -->',
      'some prose',
      '<!-- readme-example: nooutput -->',
      `${fence}js`,
      '1',
      fence,
      '<!-- readme-output: ghost -->',
      `${fence}text`,
      fence,
    ].join('\n');
    expect(parseReadmeExamples(bad, 'R.md').problems).toEqual([
      'R.md:1: ```js block has no marker: put <!-- readme-example: NAME --> (run and checked) or <!-- readme-fragment --> (not run) on the line before it',
      'R.md:4: marker not followed by a code block',
      'R.md:11: readme-output: ghost comes before its example',
      'R.md:6: example nooutput has no <!-- readme-output: nooutput -->',
    ]);
  });
});
